//! Routes grouped by expert on the GPU (shaders/moe_group.wgsl), so each expert's matmul of a
//! prompt runs over exactly the routes that chose it ([`super::matmul`]).

use super::KernelEnv;
use crate::gpu::{Dispatch, Gpu, GpuError, Grid, Kernel, PipelineKey, StorageBuffer, UniformBuffer};

/// The most experts one workgroup groups (it gives each expert at least one invocation).
pub const MAX_EXPERTS: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n_expert: u32,
    k: u32,
    _pad: [u32; 2],
}

/// The routes of a submit grouped by expert, for up to `max_tokens · k` routes. Route a is
/// `t · k + j`: the j-th expert choice of token t, as the router writes them.
pub struct ExpertGroups {
    /// (E) routes that chose each expert.
    pub counts: StorageBuffer,
    /// (E + 1) exclusive prefix sums of `counts`: expert e's routes are
    /// `order[offsets[e] .. offsets[e + 1]]`.
    pub offsets: StorageBuffer,
    /// (max_tokens · k) route indices, by expert, ascending within an expert.
    pub order: StorageBuffer,
    /// E.
    pub n_experts: u32,
    /// Experts used per token.
    pub k: u32,
}

impl ExpertGroups {
    /// Buffers for submits of up to `max_tokens` tokens (the scratch batch) choosing `k` of
    /// `n_experts` experts each.
    pub async fn new(gpu: &Gpu, n_experts: u32, k: u32, max_tokens: u32) -> Result<ExpertGroups, GpuError> {
        if n_experts == 0 || n_experts > MAX_EXPERTS || k == 0 || k > n_experts {
            return Err(GpuError::Operation {
                message: format!(
                    "grouping tokens by expert supports models of 1 to {MAX_EXPERTS} experts using 1 to all of them per token; this one uses {k} of {n_experts}"
                ),
            });
        }
        let routes = max_tokens as u64 * k as u64;
        Ok(ExpertGroups {
            counts: StorageBuffer::new(gpu, "expert counts", n_experts as u64 * 4).await?,
            offsets: StorageBuffer::new(gpu, "expert offsets", (n_experts as u64 + 1) * 4).await?,
            order: StorageBuffer::new(gpu, "expert order", routes * 4).await?,
            n_experts,
            k,
        })
    }
}

/// Group the submit's `routes` (n_tokens · k records `{expert, weight}`) into `groups`.
pub fn moe_group(
    gpu: &Gpu,
    env: &KernelEnv,
    routes: &StorageBuffer,
    groups: &ExpertGroups,
) -> Result<Dispatch, GpuError> {
    let pipeline = gpu.pipeline(&PipelineKey::new(Kernel::MoeGroup))?;
    let params =
        UniformBuffer::new(gpu, "moe_group params", &Params { n_expert: groups.n_experts, k: groups.k, _pad: [0; 2] });
    let bind_group = gpu.bind_group(
        "moe_group",
        &pipeline,
        &[
            env.step.binding(),
            params.binding(),
            routes.binding(),
            groups.counts.binding(),
            groups.offsets.binding(),
            groups.order.binding(),
        ],
    );
    Ok(Dispatch { label: "moe_group".into(), slots: None, pipeline, bind_group, grid: Grid::Fixed([1, 1, 1]) })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kernels::testing::*;
    use crate::kernels::Step;
    use crate::synthetic::Rng;

    /// The experts of `n_tokens · k` routes, k distinct per token, unevenly loaded: only experts
    /// `0..used` are ever chosen, and `favourite` is each token's first choice 3 times in 4.
    pub(crate) fn skewed_routes(rng: &mut Rng, n_tokens: usize, k: usize, used: u32, favourite: u32) -> Vec<u32> {
        let mut experts = Vec::with_capacity(n_tokens * k);
        for _ in 0..n_tokens {
            let mut chosen: Vec<u32> = Vec::with_capacity(k);
            if rng.below(4) != 0 {
                chosen.push(favourite);
            }
            while chosen.len() < k {
                let e = rng.below(used as u64) as u32;
                if !chosen.contains(&e) {
                    chosen.push(e);
                }
            }
            experts.extend(chosen);
        }
        experts
    }

    /// Route records as the router writes them, `{expert, weight}`, with weights `1 / (a + 1)`.
    pub(crate) fn routes_buffer(gpu: &Gpu, experts: &[u32]) -> StorageBuffer {
        let words: Vec<u32> =
            experts.iter().enumerate().flat_map(|(a, &e)| [e, (1.0 / (a as f32 + 1.0)).to_bits()]).collect();
        u32_buffer(gpu, &words)
    }

    /// The grouping on the CPU: (counts, offsets, order).
    fn cpu_groups(experts: &[u32], n_experts: u32) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let counts: Vec<u32> = (0..n_experts).map(|e| experts.iter().filter(|&&x| x == e).count() as u32).collect();
        let mut offsets = vec![0];
        for (e, c) in counts.iter().enumerate() {
            offsets.push(offsets[e] + c);
        }
        let order =
            (0..n_experts).flat_map(|e| (0..experts.len() as u32).filter(move |&a| experts[a as usize] == e)).collect();
        (counts, offsets, order)
    }

    fn assert_same(label: &str, what: &str, got: &[u32], want: &[u32]) {
        assert_eq!(got.len(), want.len(), "{label}: {what}: lengths differ");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "{label}: {what}[{i}]: GPU {g}, CPU {w}");
        }
    }

    #[test]
    fn groups_routes_by_expert_in_route_order() {
        let gpu = gpu();
        let env = KernelEnv::new(gpu);
        let mut rng = Rng::new(21);
        // (experts, k, tokens of the submit, tokens the buffers hold, experts ever chosen)
        for (n_experts, k, n_tokens, capacity, used) in [
            (1, 1, 5, 5, 1),
            (8, 1, 70, 70, 3),
            (8, 2, 33, 40, 5),
            (6, 2, 1, 8, 6),
            (12, 8, 70, 70, 10),
            (64, 8, 4096, 4096, 64),
            (128, 8, 300, 300, 128),
            (256, 8, 70, 70, 200),
            (200, 6, 33, 40, 150),
            (8, 2, 4096, 4096, 8),
        ] {
            let label = format!("E={n_experts} k={k} t={n_tokens}");
            // The routes past the submit's tokens hold expert 0 and must not be grouped.
            let mut experts = skewed_routes(&mut rng, n_tokens, k, used, used - 1);
            let submitted = experts.clone();
            experts.resize(capacity * k, 0);
            let routes = routes_buffer(gpu, &experts);
            let groups = pollster::block_on(ExpertGroups::new(gpu, n_experts, k as u32, capacity as u32)).unwrap();
            let d = moe_group(gpu, &env, &routes, &groups).unwrap();
            run(gpu, &env, Step { n_tokens: n_tokens as u32, ..Default::default() }, &[d]);
            let (counts, offsets, order) = cpu_groups(&submitted, n_experts);
            assert_same(&label, "counts", &read_u32(gpu, &groups.counts), &counts);
            assert_same(&label, "offsets", &read_u32(gpu, &groups.offsets), &offsets);
            assert_same(&label, "order", &read_u32(gpu, &groups.order)[..n_tokens * k], &order);
        }
    }

    #[test]
    fn rejects_expert_counts_one_workgroup_cannot_group() {
        let gpu = gpu();
        for (n_experts, k) in [(0, 1), (257, 2), (8, 0), (4, 5)] {
            assert!(
                pollster::block_on(ExpertGroups::new(gpu, n_experts, k, 16)).is_err(),
                "E={n_experts} k={k} accepted"
            );
        }
    }
}
