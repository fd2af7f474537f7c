// Entry point of matvec.wgsl for adapters with subgroups (LANES = WG: the whole workgroup works
// on ROWS rows): each subgroup adds its partial sums with subgroupAdd; where the workgroup may
// hold more than one subgroup (MULTI_SUBGROUP: WG above the adapter's smallest subgroup), the
// first invocation of each writes its sums to workgroup memory and, after one barrier, every
// invocation adds them up.

override MULTI_SUBGROUP: bool = true;

// The smallest subgroup there is has 4 invocations.
const MAX_SUBGROUPS: u32 = MAX_WG / 4u;

// (row i, subgroup) → the subgroup's sums.
var<workgroup> partial: array<vec2<f32>, MAX_ROWS * MAX_SUBGROUPS>;
var<private> subgroup: vec3<u32>;    // (invocation in its subgroup, subgroup, subgroups)

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
    @builtin(subgroup_id) sg_id: u32,
    @builtin(num_subgroups) n_sg: u32,
) {
    subgroup = vec3<u32>(sg_lane, sg_id, n_sg);
    matvec(wg, nwg, lid);
}

// Leaves the workgroup's totals in the sums of every invocation.
fn reduce_rows(sums: ptr<function, array<vec2<f32>, MAX_ROWS>>, lid: u32) {
    for (var i = 0u; i < ROWS; i++) {
        (*sums)[i] = subgroupAdd((*sums)[i]);
    }
    if (!MULTI_SUBGROUP) {
        return;
    }
    if (subgroup.x == 0u) {
        for (var i = 0u; i < ROWS; i++) {
            partial[i * MAX_SUBGROUPS + subgroup.y] = (*sums)[i];
        }
    }
    workgroupBarrier();
    for (var i = 0u; i < ROWS; i++) {
        var total = vec2<f32>(0.0);
        for (var s = 0u; s < subgroup.z; s++) {
            total += partial[i * MAX_SUBGROUPS + s];
        }
        (*sums)[i] = total;
    }
}
