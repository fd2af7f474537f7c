//! A recorded dispatch: pipeline, bind group and grid, created once and encoded for every token.

use std::borrow::Cow;
use std::sync::Arc;

/// Workgroup counts of a dispatch. Some grids grow with the number of tokens in the submit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Grid {
    Fixed([u32; 3]),
    /// `[x, per_token * n_tokens, 1]`.
    PerToken { x: u32, per_token: u32 },
    /// `[x, n_tokens, 1]` with x itself per token: `[x, y]` fixed, `z = n_tokens`.
    PerTokenZ { x: u32, y: u32 },
    /// `[x, ceil(n_tokens / tile), z]`: tiles of `tile` tokens (the prompt matmul).
    TokenTiles { x: u32, tile: u32, z: u32 },
    /// `x` workgroups folded into `[min(x, fold), y, ceil(x / fold)]`, where y is
    /// `per_token · n_tokens` (or 1 when `per_token` is `None`), so an x above the adapter's
    /// per-dimension limit (the rows of a 262144-token vocabulary) still dispatches: the
    /// kernel's column is `wg.x + wg.z · nwg.x`.
    Folded { x: u32, per_token: Option<u32>, fold: u32 },
}

impl Grid {
    pub fn size(&self, n_tokens: u32) -> [u32; 3] {
        match *self {
            Grid::Fixed(g) => g,
            Grid::PerToken { x, per_token } => [x, per_token * n_tokens, 1],
            Grid::PerTokenZ { x, y } => [x, y, n_tokens],
            Grid::TokenTiles { x, tile, z } => [x, n_tokens.div_ceil(tile), z],
            Grid::Folded { x, per_token, fold } => [x.min(fold), per_token.map_or(1, |p| p * n_tokens), x.div_ceil(fold.max(1))],
        }
    }
}

/// One compute dispatch, ready to encode.
pub struct Dispatch {
    /// What the dispatch computes, for profiles: the kernel, and for a weight matrix its
    /// tensor and type (`matvec ffn_down_exps Q6_K`).
    pub label: Cow<'static, str>,
    /// For a page of expert weights: the slots the page holds (its workgroups skip routes whose
    /// expert is in another slot, so a submit that needs none of these slots can leave it out).
    pub slots: Option<std::ops::Range<u32>>,
    pub pipeline: Arc<wgpu::ComputePipeline>,
    pub bind_group: wgpu::BindGroup,
    pub grid: Grid,
}

impl Dispatch {
    /// Whether the dispatch has work for routes to any of `slots` (always, for one that is not
    /// a page of expert weights).
    pub fn serves_any(&self, slots: &[u32]) -> bool {
        self.slots.as_ref().is_none_or(|range| slots.iter().any(|s| range.contains(s)))
    }

    /// Record the dispatch; returns whether it had any work (empty grids are skipped).
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, n_tokens: u32) -> bool {
        let [x, y, z] = self.grid.size(n_tokens);
        if x == 0 || y == 0 || z == 0 {
            return false;
        }
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(x, y, z);
        true
    }
}
