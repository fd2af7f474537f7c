// Entry point of matvec.wgsl for every adapter: the LANES partial sums of each row are added in
// workgroup memory, a tree of log2(LANES) barriers. With LANES = 1 there is nothing to add.

// (row i, invocation) → partial sums, row-major.
var<workgroup> partial: array<vec2<f32>, MAX_ROWS * MAX_WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    matvec(wg, nwg, lid);
}

// Leaves the group's totals in the sums of its lane 0.
fn reduce_rows(sums: ptr<function, array<vec2<f32>, MAX_ROWS>>, lid: u32) {
    if (LANES == 1u) {
        return;
    }
    let lane = lid % LANES;
    for (var i = 0u; i < ROWS; i++) {
        partial[i * WG + lid] = (*sums)[i];
    }
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            for (var i = 0u; i < ROWS; i++) {
                partial[i * WG + lid] += partial[i * WG + lid + s];
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < ROWS; i++) {
        (*sums)[i] = partial[i * WG + lid];
    }
}
