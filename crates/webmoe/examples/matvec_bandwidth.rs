//! The matrix × vector kernel alone, per weight type, at a decode's shapes: the weight bytes it
//! reads per second next to the device's measured copy bandwidth (decode at batch 1 is one pass
//! over the active weights, so this is its ceiling per matrix).
//!
//! usage: matvec_bandwidth [--rows N] [--cols N] [--types Q4_K,Q6_K,…] [--reps N]
//!                         [--shape WORKGROUP,LANES,ROWS,tree|subgroup|subgroups]
//!
//! Defaults: Mixtral 8x7B's expert up projection, 14336 rows of 4096 values, every type with a
//! GPU decoder, 5 timed submits of 4 dispatches each (the best is kept). The kernel form is the
//! one chosen for the adapter (`WEBMOE_PORTABLE=1`: the portable one); `--shape` tries another
//! (`subgroup`: one subgroup per workgroup, `subgroups`: several).

use std::process::ExitCode;
use web_time::Instant;
use webmoe::gguf::{GgmlType, MemorySource};
use webmoe::gpu::{copy_bandwidth, map_read, Gpu, GpuMatrix, GpuOptions, MatvecShape, Reduce, StorageBuffer};
use webmoe::kernels::matvec::{matvec, Matvec};
use webmoe::kernels::{KernelEnv, Step};
use webmoe::model::Matrix;
use webmoe::synthetic::{random_tensor_bytes, Rng};

struct Options {
    rows: usize,
    cols: usize,
    types: Vec<GgmlType>,
    reps: u32,
    shape: Option<MatvecShape>,
}

fn parse() -> Result<Options, String> {
    let mut o = Options { rows: 14336, cols: 4096, types: Vec::new(), reps: 5, shape: None };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|_| format!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--rows" => o.rows = number()?,
            "--cols" => o.cols = number()?,
            "--reps" => o.reps = number()? as u32,
            "--types" => {
                o.types = value.split(',').map(|t| gpu_types().find(|g| g.name().eq_ignore_ascii_case(t)).ok_or(format!("no GPU decoder for {t}"))).collect::<Result<_, _>>()?
            }
            "--shape" => o.shape = Some(parse_shape(&value).ok_or(format!("--shape: expected WORKGROUP,LANES,ROWS,tree|subgroup|subgroups, got {value}"))?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if o.types.is_empty() {
        o.types = gpu_types().collect();
    }
    Ok(o)
}

fn parse_shape(s: &str) -> Option<MatvecShape> {
    let parts: Vec<&str> = s.split(',').collect();
    let [workgroup, lanes, rows, reduce] = parts[..] else { return None };
    let reduce = match reduce {
        "tree" => Reduce::Workgroup,
        "subgroup" => Reduce::Subgroup { multi: false },
        "subgroups" => Reduce::Subgroup { multi: true },
        _ => return None,
    };
    Some(MatvecShape { workgroup: workgroup.parse().ok()?, lanes: lanes.parse().ok()?, rows: rows.parse().ok()?, reduce })
}

fn gpu_types() -> impl Iterator<Item = GgmlType> {
    webmoe::quant::SUPPORTED.iter().copied().filter(|&t| webmoe::gpu::has_decoder(t))
}

/// Seconds of the fastest of `reps` submits, each `per_submit` encodings of `dispatches`.
fn time(gpu: &Gpu, dispatches: &[webmoe::gpu::Dispatch], per_submit: u32, reps: u32) -> Result<f64, String> {
    let fence = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("fence"),
        size: 4,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let marker = StorageBuffer::with_data(gpu, "marker", &[0u8; 4]);
    let mut best = f64::INFINITY;
    // The first round compiles and warms up; it is not counted.
    for round in 0..=reps {
        let t = Instant::now();
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..per_submit {
                for d in dispatches {
                    d.encode(&mut pass, 1);
                }
            }
        }
        enc.copy_buffer_to_buffer(&marker.buffer, 0, &fence, 0, 4);
        gpu.queue.submit([enc.finish()]);
        pollster::block_on(map_read(gpu, &fence)).map_err(|e| e.to_string())?;
        fence.unmap();
        if round > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    gpu.check().map_err(|e| e.to_string())?;
    Ok(best / per_submit as f64)
}

fn run(o: &Options) -> Result<(), String> {
    let gpu = pollster::block_on(Gpu::new(&GpuOptions { matvec: o.shape, ..Default::default() })).map_err(|e| e.to_string())?;
    println!("adapter: {}", gpu.describe());
    println!("kernels: {}", gpu.variants.describe());
    let copy = pollster::block_on(copy_bandwidth(&gpu, 256 << 20, 3)).map_err(|e| e.to_string())?;
    println!("copy bandwidth: {:.2} GB/s", copy / 1e9);
    println!("{} rows × {} values:", o.rows, o.cols);
    let env = KernelEnv::new(&gpu);
    env.set_step(&gpu, Step { n_tokens: 1, ..Default::default() });
    let mut rng = Rng::new(1);
    for &ty in &o.types {
        if o.cols as u64 % ty.block_elems() != 0 {
            println!("  {ty}: rows of {} values are not whole blocks, skipped", o.cols);
            continue;
        }
        let bytes = random_tensor_bytes(ty, o.rows * o.cols, 1.0, &mut rng);
        let m = Matrix { name: format!("w<{ty}>"), ty, cols: o.cols, rows: o.rows, experts: vec![0..bytes.len() as u64] };
        let weight_bytes = bytes.len() as f64;
        let gm = pollster::block_on(GpuMatrix::load(&gpu, &MemorySource::new(bytes), &m)).map_err(|e| e.to_string())?;
        let x: Vec<f32> = (0..o.cols).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let xb = StorageBuffer::with_data(&gpu, "x", bytemuck::cast_slice(&x));
        let yb = StorageBuffer::with_data(&gpu, "y", &vec![0u8; o.rows * 4]);
        let d = matvec(&gpu, &env, &Matvec::dense(&gm, &xb, &yb)).map_err(|e| e.to_string())?;
        let seconds = time(&gpu, &d, 4, o.reps)?;
        let rate = weight_bytes / seconds;
        println!(
            "  {:<5} {:>8.1} MiB  {:>8.3} ms  {:>7.2} GB/s  {:>5.1}% of copy",
            ty.name(),
            weight_bytes / 1048576.0,
            seconds * 1e3,
            rate / 1e9,
            100.0 * rate / copy
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse().and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
