//! Write a synthetic llama-architecture GGUF model with random weights (see `webmoe::synthetic`),
//! up to the real sizes: streamed to disk in a few tens of MiB of memory.
//!
//! usage: gen_model OUT.gguf [--preset mixtral-8x7b|mixtral-8x22b] [--layers N] [--hidden N] [--ffn N]
//!                  [--heads N] [--kv-heads N] [--experts N] [--experts-used N] [--vocab N] [--ctx N]
//!                  [--type Q4_K_M|Q8_0|Q6_K|…] [--seed N] [--vocab-from tokenizer.json|MODEL.gguf] [--threads N]
//!                  [--header-only]
//!
//! `--header-only` writes the header and extends the file to its full size without writing the
//! weights (a sparse file: they read as zeros): the shape and size of a model too large for the
//! disk, for what reads only headers (`webmoe inspect`, the GPU budget arithmetic).
//!
//! Without a preset: a Mixtral-shaped model scaled down to 8 layers of hidden 1024, 8 experts,
//! top-2, Q4_K_M. The other options override the preset's fields, whatever their order.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use webmoe::gguf::GgmlType;
use webmoe::synthetic::{Generator, Mix, Spec, Vocab, PRESETS};

const USAGE: &str = "usage: gen_model OUT.gguf [--preset NAME] [--layers N] [--hidden N] [--ffn N] [--heads N]
                 [--kv-heads N] [--experts N] [--experts-used N] [--vocab N] [--ctx N] [--type TYPE]
                 [--seed N] [--vocab-from tokenizer.json|MODEL.gguf] [--threads N] [--header-only]";

struct Options {
    out: PathBuf,
    spec: Spec,
    vocab_from: Option<PathBuf>,
    /// Whether `--vocab` was given (it must then agree with `--vocab-from`).
    vocab_given: bool,
    threads: usize,
    /// Write the header and a sparse rest, no weights.
    header_only: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let out = match args.first() {
        Some(a) if !a.starts_with('-') => PathBuf::from(a),
        _ => return Err(format!("give the output file name first\n{USAGE}")),
    };
    let header_only = args.iter().any(|a| a == "--header-only");
    let mut pairs = Vec::new();
    let mut it = args[1..].iter().filter(|a| *a != "--header-only");
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        pairs.push((flag.as_str(), value.as_str()));
    }
    // The preset first, so every other option overrides it.
    let mut spec = Spec::mixtral_like(8, 1024);
    for &(_, name) in pairs.iter().filter(|(flag, _)| *flag == "--preset") {
        spec = Spec::preset(name).ok_or_else(|| format!("unknown preset {name:?}; presets: {}", PRESETS.join(", ")))?;
    }
    let default_threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let mut o = Options { out, spec, vocab_from: None, vocab_given: false, threads: default_threads, header_only };
    for (flag, value) in pairs {
        let num = || value.parse::<usize>().map_err(|_| format!("{flag} takes a number, not {value:?}"));
        let s = &mut o.spec;
        match flag {
            "--preset" => {}
            "--layers" => s.n_layer = num()?,
            "--hidden" => s.n_embd = num()?,
            "--ffn" => s.n_ff = num()?,
            "--heads" => s.n_head = num()?,
            "--kv-heads" => s.n_head_kv = num()?,
            "--experts" => s.n_expert = num()?,
            "--experts-used" => s.n_expert_used = num()?,
            "--vocab" => {
                s.vocab_size = num()?;
                o.vocab_given = true;
            }
            "--ctx" => s.context_length = num()?,
            "--seed" => s.seed = value.parse().map_err(|_| format!("--seed takes a number, not {value:?}"))?,
            "--type" => {
                s.mix = Mix::from_name(value)
                    .ok_or_else(|| format!("unknown type {value:?}; types: {}", Mix::names().join(", ")))?
            }
            "--vocab-from" => o.vocab_from = Some(PathBuf::from(value)),
            "--threads" => o.threads = num()?.max(1),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(o)
}

/// Progress on stderr: one line rewritten in place on a terminal, else a line every 10 seconds.
struct Progress {
    total: u64,
    start: Instant,
    last: Instant,
    every: Duration,
    in_place: bool,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let in_place = std::io::stderr().is_terminal();
        let every = if in_place { Duration::from_millis(250) } else { Duration::from_secs(10) };
        let start = Instant::now();
        // The first line after one interval: a rate measured over the header alone means nothing.
        Progress { total, start, last: start, every, in_place }
    }

    fn update(&mut self, written: u64) {
        let now = Instant::now();
        let done = written == self.total;
        if !done && now - self.last < self.every {
            return;
        }
        self.last = now;
        let secs = (now - self.start).as_secs_f64().max(1e-9);
        let rate = written as f64 / secs;
        let left = (self.total - written) as f64 / rate.max(1.0);
        let line = format!(
            "{:.2} / {:.2} GB ({:.0}%), {:.0} MB/s, {} left",
            written as f64 / 1e9,
            self.total as f64 / 1e9,
            100.0 * written as f64 / self.total.max(1) as f64,
            rate / 1e6,
            clock(left)
        );
        if self.in_place {
            eprint!("\r{line}\x1b[K{}", if done { "\n" } else { "" });
        } else {
            eprintln!("{line}");
        }
    }
}

fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}\npresets: {}\ntypes: {}", PRESETS.join(", "), Mix::names().join(", "));
        return Ok(());
    }
    let mut o = parse(args)?;
    let generator = match &o.vocab_from {
        Some(path) => {
            let vocab = Vocab::from_file(path).map_err(|e| e.to_string())?;
            if !o.vocab_given {
                o.spec.vocab_size = vocab.len();
            }
            o.spec.validate().map_err(|e| e.to_string())?;
            Generator::with_vocab(&o.spec, &vocab).map_err(|e| e.to_string())?
        }
        None => {
            o.spec.validate_with_synthetic_vocab().map_err(|e| e.to_string())?;
            Generator::new(&o.spec)
        }
    };
    let generator = generator.threads(o.threads);
    let total = generator.file_len();
    eprintln!("writing {}: {:.2} GB, {:?}", o.out.display(), total as f64 / 1e9, o.spec);

    // Written under a temporary name and renamed when complete, so an interrupted run never
    // leaves a file that looks whole.
    let partial = partial_name(&o.out);
    let file = std::fs::File::create(&partial).map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    if o.header_only {
        use std::io::Write;
        let written = (&file).write_all(generator.header_bytes()).and_then(|_| file.set_len(total)).and_then(|_| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&partial);
            return Err(format!("cannot write {}: {e}", o.out.display()));
        }
        std::fs::rename(&partial, &o.out).map_err(|e| format!("cannot rename {} to {}: {e}", partial.display(), o.out.display()))?;
        eprintln!("wrote the header of {} ({} bytes) and extended it to {total} bytes without weights", o.out.display(), generator.header_len());
        return Ok(());
    }
    let mut progress = Progress::new(total);
    let start = Instant::now();
    let written = generator.write(file, &mut |n| progress.update(n)).and_then(|f| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("cannot write {}: {e}", o.out.display()));
    }
    std::fs::rename(&partial, &o.out)
        .map_err(|e| format!("cannot rename {} to {}: {e}", partial.display(), o.out.display()))?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!("wrote {}: {total} bytes in {secs:.1} s ({:.0} MB/s)", o.out.display(), total as f64 / secs / 1e6);
    eprintln!("{}", type_summary(&generator));
    Ok(())
}

fn partial_name(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

/// Tensors and bytes per type, largest first.
fn type_summary(g: &Generator) -> String {
    let mut per_type: Vec<(GgmlType, usize, u64)> = Vec::new();
    for t in g.tensors() {
        match per_type.iter_mut().find(|(ty, _, _)| *ty == t.ty) {
            Some((_, n, bytes)) => {
                *n += 1;
                *bytes += t.size;
            }
            None => per_type.push((t.ty, 1, t.size)),
        }
    }
    per_type.sort_by_key(|&(_, _, bytes)| std::cmp::Reverse(bytes));
    let parts: Vec<String> =
        per_type.iter().map(|(ty, n, bytes)| format!("{ty} {n} tensors {:.2} GB", *bytes as f64 / 1e9)).collect();
    format!("types: {}", parts.join(", "))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
