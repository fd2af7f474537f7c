//! Malformed model files through the `webmoe` binary. Each file, generated here from a valid model
//! (rewritten with `GgufWriter`, or patched byte by byte) or taken from tests/fixtures/bad/, goes
//! through both `webmoe inspect FILE` and `webmoe run -m FILE --tokens 1,2 -n 1`. Each must exit
//! non-zero with exactly one line on stderr that starts with `error: ` and names the problem, never
//! a panic or a signal, within a time limit and (for files that never reach the GPU) a hard limit
//! on address space.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use webmoe::gguf::{Array, GgmlType, Gguf, GgufWriter, Value};
use webmoe::synthetic::{model_bytes, Mix, Spec};

/// Wall-clock limit for one command.
const TIME_LIMIT: Duration = Duration::from_secs(20);

/// Address space a command may use beyond the mapped file when the file should be refused before
/// the GPU is set up: an allocation sized by a header field fails against it instead of going
/// unnoticed.
const ADDRESS_LIMIT_KIB: u64 = 1 << 20;

/// Peak resident memory any command may reach (commands that set up a GPU included).
const RSS_LIMIT_KIB: u64 = 2 << 20;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn oracle_model(case: &str) -> Vec<u8> {
    let path = repo().join("tests/fixtures/oracle").join(case).join("model.gguf");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A small valid MoE model with a working tokenizer: 1 layer, hidden 64, 2 heads (1 KV) of 32,
/// 4 experts of FFN 64 with top-2, vocabulary 300, context 128, Q8_0 matrices.
fn base_spec() -> Spec {
    Spec {
        n_layer: 1,
        n_embd: 64,
        n_ff: 64,
        n_head: 2,
        n_head_kv: 1,
        n_expert: 4,
        n_expert_used: 2,
        vocab_size: 300,
        context_length: 128,
        mix: Mix::Pure(GgmlType::Q8_0),
        seed: 7,
    }
}

// ---------------------------------------------------------------------------------------------
// Building malformed files

/// A model file taken apart into metadata and tensors, to be edited and written back.
struct Parts {
    meta: Vec<(String, Value)>,
    tensors: Vec<Tensor>,
}

struct Tensor {
    name: String,
    dims: Vec<u64>,
    ty: GgmlType,
    data: Vec<u8>,
}

impl Parts {
    fn of(bytes: &[u8]) -> Parts {
        let g = Gguf::parse(bytes).expect("the base model parses");
        let tensors = g
            .tensors
            .iter()
            .map(|t| {
                let r = g.tensor_range(t);
                Tensor {
                    name: t.name.clone(),
                    dims: t.dims.clone(),
                    ty: t.ty,
                    data: bytes[r.start as usize..r.end as usize].to_vec(),
                }
            })
            .collect();
        Parts { meta: g.metadata, tensors }
    }

    /// Set a key, replacing it where it is or appending it.
    fn set(mut self, key: &str, v: Value) -> Parts {
        match self.meta.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = v,
            None => self.meta.push((key.into(), v)),
        }
        self
    }

    /// Append a key even if it is already there.
    fn append(mut self, key: &str, v: Value) -> Parts {
        self.meta.push((key.into(), v));
        self
    }

    fn remove_key(mut self, key: &str) -> Parts {
        self.meta.retain(|(k, _)| k != key);
        self
    }

    fn remove_tensors(mut self, name_contains: &str) -> Parts {
        self.tensors.retain(|t| !t.name.contains(name_contains));
        self
    }

    fn add_tensor(mut self, name: &str, dims: &[u64], ty: GgmlType, data: Vec<u8>) -> Parts {
        self.tensors.push(Tensor { name: name.into(), dims: dims.to_vec(), ty, data });
        self
    }

    /// Give a tensor new dimensions (and zero bytes of the matching size).
    fn reshape(mut self, name: &str, dims: &[u64]) -> Parts {
        let t = self.tensors.iter_mut().find(|t| t.name == name).unwrap_or_else(|| panic!("no tensor {name}"));
        let rows: u64 = dims[1..].iter().product();
        t.data = vec![0; (t.ty.row_bytes(dims[0]).expect("whole blocks") * rows) as usize];
        t.dims = dims.to_vec();
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut w = GgufWriter::new();
        for (k, v) in &self.meta {
            w.meta(k, v.clone());
        }
        for t in &self.tensors {
            w.tensor(&t.name, &t.dims, t.ty, t.data.clone());
        }
        w.to_bytes()
    }
}

/// `base` rewritten after `edit`.
fn edited(base: &[u8], edit: impl FnOnce(Parts) -> Parts) -> Vec<u8> {
    edit(Parts::of(base)).bytes()
}

fn patched(bytes: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at..at + with.len()].copy_from_slice(with);
    b
}

/// Where a GGUF string (u64 length, then the bytes) holding `s` ends: the first occurrence, or the
/// last one (the tensor table comes after the metadata, whose strings could repeat a name).
fn after_string(bytes: &[u8], s: &str, last: bool) -> usize {
    let mut needle = (s.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(s.as_bytes());
    let mut hits = bytes.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle.as_slice()).map(|(i, _)| i);
    let at = if last { hits.last() } else { hits.next() };
    at.unwrap_or_else(|| panic!("{s:?} is not in the file")) + needle.len()
}

/// Byte offset of a metadata key's value type id.
fn key_type_at(bytes: &[u8], key: &str) -> usize {
    after_string(bytes, key, false)
}

/// Byte offsets of a tensor table entry's fields: n_dims, then each dimension, type and offset.
struct Entry {
    n_dims: usize,
    dims: usize,
    ty: usize,
    offset: usize,
}

fn tensor_entry(bytes: &[u8], name: &str) -> Entry {
    let n_dims = after_string(bytes, name, true);
    let count = u32::from_le_bytes(bytes[n_dims..n_dims + 4].try_into().unwrap()) as usize;
    let dims = n_dims + 4;
    Entry { n_dims, dims, ty: dims + 8 * count, offset: dims + 8 * count + 4 }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Running the binary within limits

/// What one command did.
struct Outcome {
    status: Option<ExitStatus>,
    stderr: String,
    elapsed: Duration,
    /// Peak resident set (VmHWM) last seen while it ran, when /proc shows it.
    peak_rss_kib: Option<u64>,
}

/// Run `webmoe args…`, killed after [`TIME_LIMIT`]; with `address_limit_kib`, under `ulimit -v`.
fn webmoe_bounded(args: &[&str], address_limit_kib: Option<u64>) -> Outcome {
    let bin = env!("CARGO_BIN_EXE_webmoe");
    let mut cmd = match address_limit_kib {
        Some(kib) => {
            let mut c = Command::new("sh");
            c.args(["-c", "ulimit -v \"$0\" && exec \"$@\"", &kib.to_string(), bin]).args(args);
            c
        }
        None => {
            let mut c = Command::new(bin);
            c.args(args);
            c
        }
    };
    let xdg = std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into());
    let mut child =
        cmd.env("XDG_RUNTIME_DIR", xdg).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start webmoe");
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let mut peak_rss_kib = None;
    let status = loop {
        peak_rss_kib = vm_hwm_kib(child.id()).or(peak_rss_kib);
        match child.try_wait().expect("wait for webmoe") {
            Some(status) => break Some(status),
            None if start.elapsed() > TIME_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    Outcome { status, stderr: reader.join().unwrap_or_default(), elapsed: start.elapsed(), peak_rss_kib }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Why `out` is not a clean one-line refusal naming every one of `needles`, if it is not.
fn refusal_problem(out: &Outcome, needles: &[String]) -> Option<String> {
    let err = &out.stderr;
    let status = match out.status {
        None => return Some(format!("still running after {:?}; stderr: {err}", TIME_LIMIT)),
        Some(s) => s,
    };
    if status.success() {
        return Some(format!("exited 0; stderr: {err}"));
    }
    if status.code().is_none() {
        return Some(format!("killed by a signal ({status}); stderr: {err}"));
    }
    if err.contains("panicked") {
        return Some(format!("panicked: {err}"));
    }
    if err.trim_end().lines().count() != 1 || !err.starts_with("error: ") {
        return Some(format!("expected one line starting with \"error: \", got: {err:?}"));
    }
    if let Some(missing) = needles.iter().find(|n| !err.contains(n.as_str())) {
        return Some(format!("the message does not name {missing:?}: {}", err.trim_end()));
    }
    match out.peak_rss_kib {
        Some(kib) if kib > RSS_LIMIT_KIB => Some(format!("peak memory {kib} KiB, above {RSS_LIMIT_KIB} KiB")),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The matrix

/// Which commands a case runs, and whether they set up a GPU before the problem can show.
#[derive(Clone, Copy)]
enum Commands {
    /// `inspect` and `run`: the file itself is refused, before any GPU work.
    Both,
    /// Only `run`: the file is a valid model (inspect accepts it) whose tokenizer is broken.
    RunOnly,
    /// Only `run`, with extra flags the valid model cannot honour; the GPU is set up first.
    RunWithGpu(&'static [&'static str]),
    /// Only `inspect`, with extra flags the model cannot honour.
    InspectWith(&'static [&'static str]),
}

struct Case {
    name: String,
    bytes: Vec<u8>,
    /// Text the error line must contain: the key, tensor or value at fault.
    needles: Vec<String>,
    commands: Commands,
}

fn case(name: impl Into<String>, bytes: Vec<u8>, needles: &[&str]) -> Case {
    Case {
        name: name.into(),
        bytes,
        needles: needles.iter().map(|s| s.to_string()).collect(),
        commands: Commands::Both,
    }
}

/// A scratch folder of this test process, emptied first.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("webmoe-bad-input-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// Runs every case's commands on a file of its bytes; panics listing every case that failed.
fn run_matrix(test: &str, cases: Vec<Case>) {
    let dir = scratch(test);
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let path = dir.join(format!("{i:03}.gguf"));
        std::fs::write(&path, &c.bytes).expect("write a case file");
        failures.extend(check_file(&c.name, &path, &c.needles, c.commands));
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// Runs the commands of `commands` on `path`; one message per command that did not refuse cleanly.
fn check_file(name: &str, path: &Path, needles: &[String], commands: Commands) -> Vec<String> {
    let file = path.to_str().expect("a UTF-8 temporary path");
    let run = ["run", "-m", file, "--tokens", "1,2", "-n", "1"];
    // The file is mapped whole, so its length counts against the address space too.
    let limit = Some(ADDRESS_LIMIT_KIB + std::fs::metadata(path).map_or(0, |m| m.len() / 1024));
    let mut runs: Vec<(Vec<&str>, Option<u64>)> = Vec::new();
    match commands {
        Commands::Both => {
            runs.push((vec!["inspect", file], limit));
            runs.push((run.to_vec(), limit));
        }
        Commands::RunOnly => runs.push((run.to_vec(), limit)),
        Commands::RunWithGpu(extra) => runs.push(([&run[..], extra].concat(), None)),
        Commands::InspectWith(extra) => runs.push(([&["inspect", file][..], extra].concat(), limit)),
    }
    let mut failures = Vec::new();
    for (args, limit) in runs {
        let out = webmoe_bounded(&args, limit);
        if let Some(problem) = refusal_problem(&out, needles) {
            failures.push(format!(
                "  {name}: `webmoe {}` ({:.1} s): {problem}",
                args.join(" "),
                out.elapsed.as_secs_f64()
            ));
        }
    }
    failures
}

#[test]
fn header_and_format_errors_are_refused_by_name() {
    let base = model_bytes(&base_spec());
    let arch_type = key_type_at(&base, "general.architecture");
    let tokens_type = key_type_at(&base, "tokenizer.ggml.tokens");
    let q = tensor_entry(&base, "blk.0.attn_q.weight");
    let k = tensor_entry(&base, "blk.0.attn_k.weight");
    let out = tensor_entry(&base, "output.weight");
    let q_offset = u64_at(&base, q.offset);
    let mut invalid_utf8 = base.clone();
    invalid_utf8[arch_type - 1] = 0xFF;
    let cases = vec![
        case("wrong magic", patched(&base, 0, b"GGML"), &["not a GGUF file", "47, 47, 4d, 4c"]),
        case("version 1", patched(&base, 4, &1u32.to_le_bytes()), &["GGUF version 1 "]),
        case("version 4", patched(&base, 4, &4u32.to_le_bytes()), &["GGUF version 4 "]),
        case("big-endian", patched(&base, 4, &3u32.to_be_bytes()), &["big-endian"]),
        case(
            "huge tensor count",
            patched(&base, 8, &u64::MAX.to_le_bytes()),
            &["tensor count", "18446744073709551615"],
        ),
        case(
            "huge metadata count",
            patched(&base, 16, &(1u64 << 40).to_le_bytes()),
            &["metadata count", "1099511627776"],
        ),
        case("huge key length", patched(&base, 24, &(1u64 << 50).to_le_bytes()), &["metadata key #0"]),
        case(
            "huge string length",
            patched(&base, arch_type + 4, &(1u64 << 62).to_le_bytes()),
            &["\"general.architecture\""],
        ),
        case(
            "string length one past the end",
            patched(&base, arch_type + 4, &(base.len() as u64).to_le_bytes()),
            &["\"general.architecture\"", "bytes left"],
        ),
        case(
            "huge array count",
            patched(&base, tokens_type + 8, &(1u64 << 40).to_le_bytes()),
            &["\"tokenizer.ggml.tokens\""],
        ),
        case(
            "unknown value type",
            patched(&base, arch_type, &99u32.to_le_bytes()),
            &["\"general.architecture\"", "type id 99"],
        ),
        case(
            "unknown array element type",
            patched(&base, tokens_type + 4, &42u32.to_le_bytes()),
            &["\"tokenizer.ggml.tokens\"", "type id 42"],
        ),
        case("key not UTF-8", invalid_utf8, &["metadata key #0", "UTF-8"]),
        case(
            "unknown tensor type",
            patched(&base, q.ty, &77u32.to_le_bytes()),
            &["\"blk.0.attn_q.weight\"", "type id 77"],
        ),
        case(
            "retired tensor type Q4_2",
            patched(&base, q.ty, &4u32.to_le_bytes()),
            &["\"blk.0.attn_q.weight\"", "type id 4"],
        ),
        case(
            "five dimensions",
            patched(&base, q.n_dims, &5u32.to_le_bytes()),
            &["\"blk.0.attn_q.weight\"", "5 dimensions"],
        ),
        case(
            "zero dimension",
            patched(&base, q.dims + 8, &0u64.to_le_bytes()),
            &["\"blk.0.attn_q.weight\"", "zero dimension"],
        ),
        case(
            "overflowing dimensions",
            patched(&base, q.dims + 8, &(1u64 << 62).to_le_bytes()),
            &["\"blk.0.attn_q.weight\"", "overflows"],
        ),
        case(
            "row not whole blocks",
            patched(&base, q.dims, &48u64.to_le_bytes()),
            &["\"blk.0.attn_q.weight\"", "multiple of its block size 32"],
        ),
        case(
            "offset out of range",
            patched(&base, out.offset, &(1u64 << 40).to_le_bytes()),
            &["\"output.weight\"", "reaches past the end"],
        ),
        case(
            "offset near u64::MAX",
            patched(&base, out.offset, &(u64::MAX - 31).to_le_bytes()),
            &["\"output.weight\"", "reaches past the end"],
        ),
        case(
            "misaligned offset",
            patched(&base, q.offset, &(q_offset + 4).to_le_bytes()),
            &["\"blk.0.attn_q.weight\"", "alignment 32"],
        ),
        case(
            "overlapping tensors",
            patched(&base, k.offset, &q_offset.to_le_bytes()),
            &["\"blk.0.attn_q.weight\"", "\"blk.0.attn_k.weight\"", "overlap"],
        ),
        case(
            "alignment not a power of two",
            edited(&base, |p| p.set("general.alignment", Value::U32(24))),
            &["general.alignment is 24"],
        ),
        case(
            "alignment zero",
            edited(&base, |p| p.set("general.alignment", Value::U64(0))),
            &["general.alignment is 0"],
        ),
        case(
            "alignment a string",
            edited(&base, |p| p.set("general.alignment", Value::String("32".into()))),
            &["\"general.alignment\""],
        ),
        case(
            "duplicate key",
            edited(&base, |p| p.append("llama.block_count", Value::U32(1))),
            &["\"llama.block_count\"", "twice"],
        ),
        case(
            "duplicate tensor",
            edited(&base, |p| p.add_tensor("output_norm.weight", &[64], GgmlType::F32, vec![0; 256])),
            &["\"output_norm.weight\"", "twice"],
        ),
        case(
            "arrays nested too deep",
            edited(&base, |p| {
                let deep = (0..6).fold(Array::U8(vec![1]), |inner, _| Array::Array(vec![inner]));
                p.set("nested", Value::Array(deep))
            }),
            &["\"nested\"", "deeper"],
        ),
    ];
    run_matrix("format", cases);
}

#[test]
fn truncation_anywhere_is_refused_by_name() {
    let real = oracle_model("mixtral-q8_0");
    let g = Gguf::parse(&real).expect("the fixture parses");
    let data = g.data_offset as usize;
    let tokens = key_type_at(&real, "tokenizer.ggml.tokens");
    let table = after_string(&real, "token_embd.weight", true) - 8 - "token_embd.weight".len();
    let last_entry = tensor_entry(&real, &g.tensors[g.tensors.len() - 1].name);
    let mut cuts = vec![
        1,
        3,
        4,
        6,
        8,
        12,
        16,
        20,
        24,
        28,
        33,
        40,
        tokens,
        tokens + 2,
        tokens + 12,
        tokens + 500,
        table - 2,
        table,
        table + 5,
    ];
    cuts.extend([
        table + 30,
        last_entry.offset + 4,
        data - 1,
        data,
        data + 1,
        data + 1000,
        real.len() / 2,
        real.len() - 1,
    ]);
    let cases = cuts
        .into_iter()
        .map(|cut| {
            let bytes = real[..cut].to_vec();
            // The reader's own words for this cut, checked first against what a truncation must say.
            let expected = Gguf::parse(&bytes).expect_err("a truncated file is refused").to_string();
            let named =
                ["the file ends inside", "bytes left in the file", "reaches past the end of the file's data section"];
            assert!(named.iter().any(|n| expected.contains(n)), "cut at {cut}: {expected}");
            Case { name: format!("cut at byte {cut}"), bytes, needles: vec![expected], commands: Commands::Both }
        })
        .collect();
    run_matrix("truncation", cases);
}

#[test]
fn inconsistent_models_are_refused_by_key_or_tensor() {
    let base = model_bytes(&base_spec());
    let dense = model_bytes(&Spec { n_expert: 1, n_expert_used: 1, ..base_spec() });
    let mut real_iq2 = oracle_model("mixtral-q8_0");
    let q = tensor_entry(&real_iq2, "blk.0.attn_q.weight");
    real_iq2 = patched(&real_iq2, q.ty, &GgmlType::IQ2_XS.id().to_le_bytes());
    let set = |key: &'static str, v: Value| edited(&base, move |p| p.set(key, v));
    let cases = vec![
        case(
            "unknown architecture",
            set("general.architecture", Value::String("gptx".into())),
            &["\"gptx\"", "not supported"],
        ),
        case(
            "no architecture",
            edited(&base, |p| p.remove_key("general.architecture")),
            &["\"general.architecture\"", "missing"],
        ),
        case(
            "no block count",
            edited(&base, |p| p.remove_key("llama.block_count")),
            &["\"llama.block_count\"", "missing"],
        ),
        case(
            "embedding length a string",
            set("llama.embedding_length", Value::String("64".into())),
            &["\"llama.embedding_length\""],
        ),
        case(
            "embedding length negative",
            set("llama.embedding_length", Value::I32(-64)),
            &["\"llama.embedding_length\""],
        ),
        case(
            "embedding length implausible",
            set("llama.embedding_length", Value::U64(1 << 40)),
            &["llama.embedding_length", "implausibly large"],
        ),
        case("zero heads", set("llama.attention.head_count", Value::U32(0)), &["llama.attention.head_count is 0"]),
        case(
            "zero KV heads",
            set("llama.attention.head_count_kv", Value::U32(0)),
            &["llama.attention.head_count_kv is 0"],
        ),
        case(
            "heads not dividing the width",
            set("llama.attention.head_count", Value::U32(3)),
            &["llama.attention.head_count is 3", "embedding length 64"],
        ),
        case(
            "KV heads not dividing the heads",
            set("llama.attention.head_count_kv", Value::U32(3)),
            &["llama.attention.head_count_kv is 3", "head count 2"],
        ),
        case(
            "query width past 32 bits",
            edited(&base, |p| {
                p.set("llama.attention.head_count", Value::U32(4096))
                    .set("llama.attention.head_count_kv", Value::U32(4096))
                    .set("llama.attention.key_length", Value::U32(1 << 20))
            }),
            &["llama.attention.head_count is 4096", "implausibly wide"],
        ),
        case(
            "odd head dimension",
            set("llama.attention.key_length", Value::U32(33)),
            &["llama.attention.key_length is 33"],
        ),
        case(
            "RoPE wider than a head",
            set("llama.rope.dimension_count", Value::U32(64)),
            &["llama.rope.dimension_count is 64"],
        ),
        case("negative RoPE base", set("llama.rope.freq_base", Value::F32(-1.0)), &["llama.rope.freq_base"]),
        case(
            "NaN RMS epsilon",
            set("llama.attention.layer_norm_rms_epsilon", Value::F32(f32::NAN)),
            &["llama.attention.layer_norm_rms_epsilon"],
        ),
        case("zero context", set("llama.context_length", Value::U32(0)), &["llama.context_length is 0"]),
        case("zero experts used", set("llama.expert_used_count", Value::U32(0)), &["llama.expert_used_count is 0"]),
        case(
            "more experts used than exist",
            set("llama.expert_used_count", Value::U32(5)),
            &["llama.expert_used_count is 5", "expert count 4"],
        ),
        case("too many experts", set("llama.expert_count", Value::U32(257)), &["llama.expert_count is 257", "at most 256"]),
        case(
            "experts used without an expert count",
            edited(&base, |p| p.remove_key("llama.expert_count")),
            &["llama.expert_used_count", "llama.expert_count is missing"],
        ),
        case(
            "expert tensors without expert keys",
            edited(&base, |p| p.remove_key("llama.expert_count").remove_key("llama.expert_used_count")),
            &["\"blk.0.ffn_gate_inp.weight\"", "no llama.expert_count"],
        ),
        case(
            "expert count without expert tensors",
            edited(&base, |p| p.remove_tensors("_exps.")),
            &["llama.expert_count is 4", "layer 0 has no expert tensors"],
        ),
        case(
            "expert keys on a dense model",
            edited(&dense, |p| {
                p.set("llama.expert_count", Value::U32(4)).set("llama.expert_used_count", Value::U32(2))
            }),
            &["\"blk.0.ffn_gate_inp.weight\"", "missing"],
        ),
        case(
            "attention shape disagrees with the heads",
            edited(&base, |p| p.reshape("blk.0.attn_k.weight", &[64, 64])),
            &["\"blk.0.attn_k.weight\"", "[64, 64]", "[64, 32]"],
        ),
        case(
            "expert tensor with too few experts",
            edited(&base, |p| p.reshape("blk.0.ffn_up_exps.weight", &[64, 64, 3])),
            &["\"blk.0.ffn_up_exps.weight\"", "[64, 64, 3]", "[64, 64, 4]"],
        ),
        case(
            "router with too many experts",
            edited(&base, |p| p.reshape("blk.0.ffn_gate_inp.weight", &[64, 8])),
            &["\"blk.0.ffn_gate_inp.weight\"", "[64, 8]"],
        ),
        case(
            "vocabulary larger than the embedding",
            set("llama.vocab_size", Value::U32(301)),
            &["301 tokens", "300 rows"],
        ),
        case(
            "output rows disagree with the vocabulary",
            edited(&base, |p| p.reshape("output.weight", &[64, 299])),
            &["\"output.weight\"", "[64, 299]", "[64, 300]"],
        ),
        case(
            "missing norm",
            edited(&base, |p| p.remove_tensors("output_norm")),
            &["\"output_norm.weight\"", "missing"],
        ),
        case(
            "missing layer tensor",
            edited(&base, |p| p.remove_tensors("blk.0.attn_v")),
            &["\"blk.0.attn_v.weight\"", "missing"],
        ),
        case("IQ2_XS weights in a real model", real_iq2, &["\"blk.0.attn_q.weight\"", "IQ2_XS"]),
        Case {
            name: "BOS id outside the vocabulary".into(),
            bytes: set("tokenizer.ggml.bos_token_id", Value::U32(300)),
            needles: vec!["tokenizer.ggml.bos_token_id".into(), "300".into()],
            commands: Commands::RunOnly,
        },
        Case {
            name: "no vocabulary".into(),
            bytes: edited(&base, |p| p.remove_key("tokenizer.ggml.tokens")),
            needles: vec!["tokenizer.ggml.tokens".into()],
            commands: Commands::RunOnly,
        },
        Case {
            name: "scores shorter than the vocabulary".into(),
            bytes: set("tokenizer.ggml.scores", Value::Array(Array::F32(vec![0.0; 3]))),
            needles: vec!["tokenizer.ggml.scores".into()],
            commands: Commands::RunOnly,
        },
    ];
    run_matrix("semantic", cases);
}

#[test]
fn requests_a_valid_model_cannot_honour_are_refused() {
    let base = model_bytes(&base_spec());
    let with_gpu = |name: &str, extra: &'static [&'static str], needles: &[&str]| Case {
        name: name.into(),
        bytes: base.clone(),
        needles: needles.iter().map(|s| s.to_string()).collect(),
        commands: Commands::RunWithGpu(extra),
    };
    let cases = vec![
        with_gpu("token id outside the vocabulary", &["--tokens", "1,999999"], &["999999", "300 tokens"]),
        with_gpu("context above the model's", &["-c", "100000"], &["context", "100000", "128"]),
    ];
    run_matrix("requests", cases);
}

#[test]
fn empty_files_and_folders_are_refused() {
    let dir = scratch("not-a-file");
    let empty = dir.join("empty.gguf");
    std::fs::write(&empty, b"").expect("write an empty file");
    let folder = dir.join("folder.gguf");
    std::fs::create_dir(&folder).expect("create a folder");
    let mut failures = check_file("empty file", &empty, &["0 bytes".into()], Commands::Both);
    failures.extend(check_file(
        "a folder",
        &folder,
        &[folder.display().to_string(), "it is a folder".into()],
        Commands::Both,
    ));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every file of tests/fixtures/bad/ (inputs the fuzz targets found), with what refusing it must
/// name: as it is (by `inspect` and `run`), and as the start of the longer file its last 8 bytes
/// claim (see that folder's README.md), made on disk as a sparse file of that length, by the
/// commands given.
const BAD_FIXTURES: &[(&str, &[&str], Commands, &[&str])] = &[
    (
        // Valid at the default context; at the model's own (2^31 - 1) the KV cache alone passes 2^64 bytes.
        "footprint-kv-cache-bytes-overflow.gguf",
        &["tensor \"token_embd.weight\"", "reaches past the end"],
        Commands::InspectWith(&["-c", "2147483647"]),
        &["invalid context length 2147483647", "more than any device holds"],
    ),
    (
        "metadata-count-in-a-32-gib-file.gguf",
        &["the metadata count claims 2147483648 entries"],
        Commands::Both,
        &["metadata key \"\" appears twice"],
    ),
    (
        "metadata-count-reserved-beyond-header.gguf",
        &["the tensor count claims 13 entries"],
        Commands::Both,
        &["metadata key #0", "longer than the 67108864 bytes"],
    ),
    (
        "string-longer-than-any-header.gguf",
        &["the value of metadata key \"k\" claims 1099511627776"],
        Commands::Both,
        &["the value of metadata key \"k\"", "longer than the 67108864 bytes"],
    ),
    (
        "tensor-count-in-a-32-gib-file.gguf",
        &["the tensor count claims 1073741824 entries"],
        Commands::Both,
        &["tensor \"\" appears twice"],
    ),
    (
        "tensor-count-reserved-beyond-prefix.gguf",
        &["the file ends inside the tensor count"],
        Commands::Both,
        &["tensor \"\" appears twice"],
    ),
];

#[test]
fn fuzz_findings_are_refused_by_name() {
    let folder = repo().join("tests/fixtures/bad");
    let mut on_disk: Vec<String> = std::fs::read_dir(&folder)
        .expect("tests/fixtures/bad")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".gguf"))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = BAD_FIXTURES.iter().map(|(name, _, _, _)| *name).collect();
    assert_eq!(on_disk, listed, "every file of tests/fixtures/bad/ needs an entry in BAD_FIXTURES, in name order");

    let dir = scratch("fixtures");
    let mut failures = Vec::new();
    for &(name, as_is, expanded_commands, expanded) in BAD_FIXTURES {
        let bytes = std::fs::read(folder.join(name)).expect("read a fixture");
        let path = dir.join(name);
        std::fs::write(&path, &bytes).expect("copy a fixture");
        failures.extend(check_file(name, &path, &needles(as_is), Commands::Both));
        let tail: [u8; 8] = bytes[bytes.len() - 8..].try_into().expect("8 bytes");
        let claimed = (bytes.len() as u64).saturating_add(u64::from_le_bytes(tail));
        let file = std::fs::OpenOptions::new().write(true).open(&path).expect("reopen the copy");
        match file.set_len(claimed) {
            Ok(()) => failures.extend(check_file(
                &format!("{name} as {claimed} bytes"),
                &path,
                &needles(expanded),
                expanded_commands,
            )),
            Err(e) => {
                eprintln!("{name}: not checked as a file of {claimed} bytes, which this filesystem cannot hold ({e})")
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn needles(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// A vocabulary of pieces "a", "aa", … 2000 × "a" (2 MB of metadata) is a valid model, and must
/// load within the time limit and 1 GiB or be refused by name.
#[test]
fn a_vocabulary_of_long_nested_pieces_loads_in_bounded_memory() {
    const PIECES: usize = 2000;
    let base = model_bytes(&base_spec());
    let n = PIECES as u64 + 3;
    let mut tokens: Vec<String> = ["<unk>", "<s>", "</s>"].iter().map(|s| s.to_string()).collect();
    tokens.extend((1..=PIECES).map(|len| "a".repeat(len)));
    let types: Vec<i32> = [2, 3, 3].into_iter().chain(std::iter::repeat_n(1, PIECES)).collect();
    let bytes = edited(&base, |p| {
        p.set("tokenizer.ggml.tokens", Value::Array(Array::String(tokens)))
            .set("tokenizer.ggml.scores", Value::Array(Array::F32((0..n).map(|i| -(i as f32)).collect())))
            .set("tokenizer.ggml.token_type", Value::Array(Array::I32(types)))
            .set("llama.vocab_size", Value::U32(n as u32))
            .reshape("token_embd.weight", &[64, n])
            .reshape("output.weight", &[64, n])
    });
    let dir = scratch("long-pieces");
    let path = dir.join("model.gguf");
    std::fs::write(&path, &bytes).expect("write the model");
    let out = webmoe_bounded(&["run", "-m", path.to_str().expect("a UTF-8 path"), "--tokens", "1,2", "-n", "1"], None);
    let _ = std::fs::remove_dir_all(&dir);
    let refused_cleanly = refusal_problem(&out, &[]).is_none();
    assert!(
        out.status.is_some_and(|s| s.success()) || refused_cleanly,
        "neither ran nor refused cleanly: {}",
        out.stderr
    );
    let peak = out.peak_rss_kib.unwrap_or(0);
    assert!(peak <= 1 << 20, "peak memory {peak} KiB for a {} KiB file", bytes.len() / 1024);
}
