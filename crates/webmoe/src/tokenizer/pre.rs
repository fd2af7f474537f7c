//! Pre-tokenizers of byte-level BPE vocabularies, by the name GGUF files give them
//! (`tokenizer.ggml.pre`, as llama.cpp's converter writes it).
//!
//! Each name stands for the word-splitting regexes of the model's original tokenizer.json. They are
//! rebuilt here from `tokenizers` components: `Split` (isolated matches, so text between matches
//! stays a piece too, as llama.cpp's regex splitter keeps it), `Digits`, and `ByteLevel` for the
//! GPT-2 byte-to-character mapping.

use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{PreTokenizerWrapper, SplitDelimiterBehavior};

use super::TokenizerError;

/// GPT-2's word regex without its trailing `|\s+` alternative (text left unmatched stays a piece).
const GPT2_WORDS: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

/// Llama 3's regex with the case-insensitive contractions spelt out (`(?i:'s)` would also match
/// `'ſ` under Unicode case folding, which the original tokenizer does not).
const LLAMA3_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen 2's regex: Llama 3's with single digits.
const QWEN2_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The splits llama.cpp applies when a file names no pre-tokenizer (or "default"), in order.
const DEFAULT_SPLITS: &[&str] = &[r"[\p{P}\$\+<=>\^~\|]+", GPT2_WORDS, r"\p{N}+", r"[0-9][0-9][0-9]"];

/// The families of `tokenizer.ggml.pre` names, each one set of regexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// GPT-2's regex only.
    Gpt2,
    /// Every digit on its own, then GPT-2's regex (StarCoder, SmolLM).
    DigitsThenGpt2,
    Llama3,
    Qwen2,
    /// llama.cpp's fallback for files without a pre-tokenizer name.
    Default,
}

const NAMES: &[(&str, Family)] = &[
    ("default", Family::Default),
    ("gpt-2", Family::Gpt2),
    ("phi-2", Family::Gpt2),
    ("mpt", Family::Gpt2),
    ("olmo", Family::Gpt2),
    ("jais", Family::Gpt2),
    ("gigachat", Family::Gpt2),
    ("jina-es", Family::Gpt2),
    ("jina-de", Family::Gpt2),
    ("jina-v2-es", Family::Gpt2),
    ("jina-v2-de", Family::Gpt2),
    ("exaone4", Family::Gpt2),
    ("smollm", Family::DigitsThenGpt2),
    ("starcoder", Family::DigitsThenGpt2),
    ("refact", Family::DigitsThenGpt2),
    ("command-r", Family::DigitsThenGpt2),
    ("codeshell", Family::DigitsThenGpt2),
    ("exaone", Family::DigitsThenGpt2),
    ("minerva-7b", Family::DigitsThenGpt2),
    ("llama3", Family::Llama3),
    ("llama-v3", Family::Llama3),
    ("llama-bpe", Family::Llama3),
    ("falcon3", Family::Llama3),
    ("falcon-h1", Family::Llama3),
    ("pixtral", Family::Llama3),
    ("dbrx", Family::Llama3),
    ("smaug-bpe", Family::Llama3),
    ("qwen2", Family::Qwen2),
    ("deepseek-r1-qwen", Family::Qwen2),
    ("stablelm2", Family::Qwen2),
    ("megrez", Family::Qwen2),
];

/// How a byte-level BPE vocabulary splits text into words before merging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PreTokenizer {
    family: Family,
    /// A word that is itself in the vocabulary is taken whole, without merging (Llama 3).
    pub ignore_merges: bool,
    /// `add_bos_token` when the file does not say (Llama 3 vocabularies start with BOS).
    pub add_bos_default: bool,
}

impl PreTokenizer {
    /// The pre-tokenizer a `tokenizer.ggml.pre` value names; a missing name means "default",
    /// as in llama.cpp.
    pub(super) fn from_name(name: Option<&str>) -> Result<PreTokenizer, TokenizerError> {
        let name = name.unwrap_or("default");
        let family = NAMES.iter().find(|(n, _)| *n == name).map(|&(_, f)| f).ok_or_else(|| {
            TokenizerError::UnsupportedPreTokenizer {
                pre: name.to_string(),
                supported: NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            }
        })?;
        let llama3_style = family == Family::Llama3 && !matches!(name, "dbrx" | "smaug-bpe");
        Ok(PreTokenizer { family, ignore_merges: llama3_style, add_bos_default: llama3_style })
    }

    pub(super) fn to_wrapper(&self) -> Result<PreTokenizerWrapper, TokenizerError> {
        // After the splits, bytes are mapped to GPT-2's printable characters, without its regex.
        let bytes_only = ByteLevel::new(false, true, false).into();
        let mut steps: Vec<PreTokenizerWrapper> = match self.family {
            Family::Gpt2 => return Ok(ByteLevel::new(false, true, true).into()),
            Family::DigitsThenGpt2 => {
                return Ok(
                    Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]).into()
                )
            }
            Family::Llama3 => vec![isolated(LLAMA3_WORDS)?],
            Family::Qwen2 => vec![isolated(QWEN2_WORDS)?],
            Family::Default => DEFAULT_SPLITS.iter().map(|r| isolated(r)).collect::<Result<_, _>>()?,
        };
        steps.push(bytes_only);
        Ok(Sequence::new(steps).into())
    }
}

/// Splits at every match of `regex`, keeping matches and the text between them as pieces.
fn isolated(regex: &str) -> Result<PreTokenizerWrapper, TokenizerError> {
    Split::new(SplitPattern::Regex(regex.to_string()), SplitDelimiterBehavior::Isolated, false)
        .map(Into::into)
        .map_err(TokenizerError::build)
}
