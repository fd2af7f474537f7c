//! Pre-tokenizers of byte-level BPE vocabularies, by the name GGUF files give them
//! (`tokenizer.ggml.pre`, as llama.cpp's converter writes it).
//!
//! Each name stands for a list of word-splitting regexes that llama.cpp (b11739) applies in order, each
//! to the pieces the one before left; they are rebuilt here from `tokenizers` components: `Split`
//! (isolated matches, so text between matches stays a piece too, as llama.cpp's splitter keeps it) and
//! `ByteLevel` for the GPT-2 byte-to-character mapping. The ids to match are llama.cpp's, so the regexes
//! below are what llama.cpp's matching does, which is not always what its regex text says:
//!
//! - Some regexes run as hand-written code (GPT-2's, Llama 3's, Qwen 2's and 3.5's, Kimi K2's, K2
//!   Horizon's, AFMoE's digits); the regexes here match what that code does: Kimi K2's has no
//!   upper/lower case distinction, AFMoE's digit split keeps the text before a number with its first
//!   digits.
//! - Every other regex that names a Unicode category runs on text where each non-ASCII character is
//!   replaced by a stand-in byte for its category, and each category by that byte plus its ASCII
//!   members. So `\p{Lu}`, `\p{Ll}`, `\p{Lt}`, `\p{Lm}` and `\p{Lo}` are all `\p{L}`: no non-ASCII letter
//!   is upper or lower case.
//! - Regexes without a category run on the code points, with non-ASCII whitespace read as `\v`: a
//!   class that holds a whitespace character (U+3000 in DeepSeek's) does not match it.
//! - Tiny Aya's two regexes split as one (see [`TINY_AYA_WORDS`]).
//!
//! scripts/gen-tokenizer-fixtures.py and the test beside this module check every name against
//! llama.cpp's ids.
//!
//! Names whose vocabulary is not byte-level (Gemma 4 style, spaces as `▁`), that add a separator token
//! (the BERT-style encoders), or that split at zero-width matches (SuperBPE) are not supported.

use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{PreTokenizerWrapper, SplitDelimiterBehavior};

use super::TokenizerError;

/// One pass over the pieces so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Matches, and the text between them, become pieces.
    Isolate(&'static str),
    /// Each match ends a piece: it joins the text before it, unless that text is itself a match.
    EndPiece(&'static str),
}

use Step::{EndPiece, Isolate};

/// The passes a family makes, in order.
type Splits = &'static [Step];

/// GPT-2 (and most English-first vocabularies since).
const GPT2_WORDS: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// Llama 3's regex with the case-insensitive contractions spelt out (`(?i:'s)` would also match
/// `'ſ` under Unicode case folding, which llama.cpp's code does not).
const LLAMA3_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen 2: Llama 3's with single digits.
const QWEN2_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen 3.5: Qwen 2's with combining marks inside words.
const QWEN35_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Jais 2: Llama 3's with whitespace runs cut at powers of two.
const JAIS2_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}";

/// MiniCPM 5's word regex (digits are split in threes before it).
const MINICPM5_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Ling / Ring (BailingMoE): contractions after one apostrophe, one newline per piece.
const BAILINGMOE_WORDS: &str = r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

/// Seed-Coder: punctuation runs stop at newlines.
const SEED_CODER_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+";

/// UfakZeka: Qwen 2's without contractions, so Turkish apostrophe suffixes stay on their word.
const UFAKZEKA_WORDS: &str = r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// EXAONE MoE: words may hold marks and single inner spaces between letters.
const EXAONE_MOE_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+";

/// o200k (GPT-4o, gpt-oss, Llama 4, MiniMax M2): words split before an upper-case letter that follows
/// a lower-case one. llama.cpp writes "upper" as `(?=\p{L})[^a-z]` and "lower" as `(?=\p{L})[^A-Z]`, so
/// every non-ASCII letter counts as both, and combining marks are not part of words.
const GPT4O_WORDS: &str = r"[^\r\n\p{L}\p{N}]?[\p{L}--[a-z]]*[\p{L}--[A-Z]]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{L}--[a-z]]+[\p{L}--[A-Z]]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Tekken (Mistral Nemo and later Mistral models): o200k's case split with single digits and no
/// contractions.
const TEKKEN_WORDS: &str = r"[^\r\n\p{L}\p{N}]?[\p{L}--[a-z]]*[\p{L}--[A-Z]]+|[^\r\n\p{L}\p{N}]?[\p{L}--[a-z]]+[\p{L}--[A-Z]]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Granite multilingual embedding (97M): o200k's with combining marks inside words.
const GRANITE_EMBED_WORDS: &str = r"[^\r\n\p{L}\p{N}]?[[\p{L}\p{M}]--[a-z]]*[[\p{L}\p{M}]--[A-Z]]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[[\p{L}\p{M}]--[a-z]]+[[\p{L}\p{M}]--[A-Z]]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Tiny Aya / Command A MoE. llama.cpp lists two regexes, digit groups `\d{1,3}(?=(?:\d{3})*\b)` and
/// then words, but b11739 splits as if they were one alternation: whitespace before a digit group is
/// cut as the word regex alone would cut it. As it runs, `\d` is any number character (١, ①, ² included)
/// and so is a word character, while letters and `_` are not, so a group ends where no number follows.
/// The word regex names `\p{Lu}` for upper case and `\p{Ll}` for lower, which llama.cpp reads as any
/// letter, so a word is a run of letters and marks. (All of this measured, not documented.)
const TINY_AYA_WORDS: &str = r"\p{N}{1,3}(?=(?:\p{N}{3})*(?!\p{N}))|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Youtu's word regex, again with every letter both upper and lower case.
const YOUTU_WORDS: &str = r"[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Youtu's CJK runs: Hangul syllables and jamo, CJK punctuation (fullwidth `！：；，`, `…“”‘’—`,
/// U+3001..U+303F, vertical forms), Bopomofo, Han and kana.
const YOUTU_CJK: &str = r"[\x{AC00}-\x{D7A3}\x{3131}-\x{318E}]+|[\x{FF01}\x{2026}\x{201C}\x{201D}\x{2018}\x{2019}\x{2014}\x{FF1A}\x{FF1B}\x{FF0C}\x{3001}-\x{303F}\x{FE30}-\x{FE4F}]+|[\x{3105}-\x{312F}]+|[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+";

/// Han (一..龥) and kana runs (DeepSeek V3, Hunyuan dense, Spark 2.5).
const HAN_KANA: &str = r"[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+";

/// DeepSeek V3: ASCII punctuation joins the ASCII word after it, words hold marks, and punctuation
/// and symbol runs take the newlines after them.
const DEEPSEEK3_WORDS: &str = r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"##;

/// Spark 2.5: DeepSeek V3's with one newline per piece and no newlines after punctuation.
const SPARK25_WORDS: &str = r##"[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+"##;

/// AFMoE (Arcee Trinity) digit groups, as llama.cpp's code splits them: the leading one or two digits
/// of a run (its length modulo three), then groups of three. The first group ends the piece of text
/// before it.
const AFMOE_DIGITS: &str = r"\p{N}{1,3}(?=(?:\p{N}{3})*(?!\p{N}))";

/// AFMoE's runs of Han, kana, halfwidth katakana, Kangxi radicals, Thai, Lao, Khmer, Myanmar and
/// Hangul. The third range starts at U+8C48 as llama.cpp b11739 has it (likely the compatibility
/// ideograph 豈 U+F900 turned into its canonical form, which widens the range).
const AFMOE_SCRIPTS: &str = r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{8C48}-\x{FAFF}\x{3040}-\x{309F}\x{30A0}-\x{30FF}\x{FF65}-\x{FF9F}\x{2F00}-\x{2FDF}\x{E40}-\x{E7F}\x{E80}-\x{EFF}\x{1780}-\x{17FF}\x{1000}-\x{109F}\x{AA60}-\x{AA7F}\x{A9E0}-\x{A9FF}\x{AC00}-\x{D7AF}\x{1100}-\x{11FF}]+";

/// The Han ranges of llama.cpp's `unicode_cpt_is_han` (Kimi K2), not Unicode's Han script.
macro_rules! han {
    () => {
        r"\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{2CEB0}-\x{2EBEF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}"
    };
}

/// Kimi K2, as llama.cpp's code runs it: Han runs, then words of other letters with an optional
/// contraction (no case distinction, no marks), then o200k's digits, punctuation and spaces.
const KIMI_K2_WORDS: &str = concat!(
    "[",
    han!(),
    r"]+|[^\r\n\p{L}\p{N}]?[\p{L}--[",
    han!(),
    r"]]+(?:'[sS]|'[tT]|'[mM]|'[dD]|'[rR][eE]|'[vV][eE]|'[lL][lL])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);

/// K2 Horizon: Llama 3's with marks and the zero-width (non-)joiners inside words.
const K2_HORIZON_WORDS: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}\x{200C}\x{200D}]+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// DeepSeek LLM's letter runs: the cased letters of Latin, Greek, Cyrillic, Armenian, Georgian,
/// Cherokee, Glagolitic, Coptic, Deseret, Osage, Old Hungarian, Warang Citi, Adlam, and the letter-like
/// symbols, as code point ranges.
const DEEPSEEK_LLM_LETTERS: &str = r"\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+";

/// DeepSeek LLM's ASCII, fullwidth and quotation-mark punctuation runs; the original range `　-。`
/// starts at U+3000, which llama.cpp never matches (it reads the ideographic space as `\v`).
const DEEPSEEK_LLM_PUNCTUATION: &str =
    r"\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3001}-\x{3002}]+";

/// DeepSeek's CJK runs: 一..龥, U+0800..U+4E00 (one range in the original) and Hangul, whitespace in
/// them excepted for the same reason.
const DEEPSEEK_CJK: &str = r"[[\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]--[\s]]+";

/// BLOOM / Poro / GPT-3 Finnish: everything up to a space or one of a few punctuation marks
/// (`.,!?…。，、।۔،`, and `(|)`, which the class lists as if it were a group).
const BLOOM_WORDS: &str = r" ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+";

const DEFAULT: Splits =
    &[Isolate(r"[\p{P}\$\+<=>\^~\|]+"), Isolate(GPT2_WORDS), Isolate(r"\p{N}+"), Isolate(r"[0-9][0-9][0-9]")];
const GPT2: Splits = &[Isolate(GPT2_WORDS)];
/// Every digit on its own, then GPT-2's regex (StarCoder, SmolLM, Command R).
const DIGITS_THEN_GPT2: Splits = &[Isolate(r"\p{N}"), Isolate(GPT2_WORDS)];
const FALCON: Splits = &[Isolate(r"[\p{P}\$\+<=>\^~\|`]+"), Isolate(GPT2_WORDS), Isolate(r"[0-9][0-9][0-9]")];
const LLAMA3: Splits = &[Isolate(LLAMA3_WORDS)];
const JAIS2: Splits = &[Isolate(JAIS2_WORDS)];
const MINICPM5: Splits = &[Isolate(r"\p{N}{1,3}"), Isolate(MINICPM5_WORDS)];
const QWEN2: Splits = &[Isolate(QWEN2_WORDS)];
const QWEN35: Splits = &[Isolate(QWEN35_WORDS)];
const BAILINGMOE: Splits = &[Isolate(BAILINGMOE_WORDS)];
const SEED_CODER: Splits = &[Isolate(SEED_CODER_WORDS)];
const UFAKZEKA: Splits = &[Isolate(UFAKZEKA_WORDS)];
const EXAONE_MOE: Splits = &[Isolate(EXAONE_MOE_WORDS)];
/// Laguna: lines first, then Qwen 2's regex.
const LAGUNA: Splits = &[Isolate(r"[^\n]+|[\n]+"), Isolate(QWEN2_WORDS)];
const GPT4O: Splits = &[Isolate(GPT4O_WORDS)];
const TEKKEN: Splits = &[Isolate(TEKKEN_WORDS)];
const GRANITE_EMBED: Splits = &[Isolate(GRANITE_EMBED_WORDS)];
const TINY_AYA: Splits = &[Isolate(TINY_AYA_WORDS)];
const YOUTU: Splits = &[Isolate(YOUTU_CJK), Isolate(YOUTU_WORDS)];
const KIMI_K2: Splits = &[Isolate(KIMI_K2_WORDS)];
const K2_HORIZON: Splits = &[Isolate(K2_HORIZON_WORDS)];
const DEEPSEEK_V3: Splits = &[Isolate(r"\p{N}{1,3}"), Isolate(HAN_KANA), Isolate(DEEPSEEK3_WORDS)];
const SPARK25: Splits = &[Isolate(r"\p{N}{1,3}"), Isolate(HAN_KANA), Isolate(SPARK25_WORDS), Isolate(r"\p{N}")];
const AFMOE: Splits = &[EndPiece(AFMOE_DIGITS), Isolate(AFMOE_SCRIPTS), Isolate(DEEPSEEK3_WORDS)];
const DEEPSEEK_LLM: Splits = &[
    Isolate(r"[\r\n]"),
    Isolate(DEEPSEEK_LLM_LETTERS),
    Isolate(DEEPSEEK_LLM_PUNCTUATION),
    Isolate(r"\s+$"),
    Isolate(DEEPSEEK_CJK),
    Isolate(r"\p{N}+"),
];
const DEEPSEEK_CODER: Splits =
    &[Isolate(r"[\r\n]"), Isolate(r"\s?\p{L}+"), Isolate(r"\s?\p{P}+"), Isolate(DEEPSEEK_CJK), Isolate(r"\p{N}")];
const BLOOM: Splits = &[Isolate(BLOOM_WORDS)];
/// Viking: BLOOM's, then single digits.
const VIKING: Splits = &[Isolate(BLOOM_WORDS), Isolate(r"\p{N}")];
/// Chameleon: its sentinel and image tokens, tabs, newlines and space pairs, digits and punctuation
/// alone, then GPT-2's regex.
const CHAMELEON: Splits = &[
    Isolate(r"<sentinel:[0-9]+>"),
    Isolate(r"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z"),
    Isolate(r"([\t\n]|    |  )"),
    Isolate(r"\p{N}"),
    Isolate(r"[\p{P}!-/:-@\[-`{-~]"),
    Isolate(GPT2_WORDS),
];

/// What a name implies beyond its regexes, as llama.cpp sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Traits {
    /// A word that is itself in the vocabulary is taken whole, without merging.
    ignore_merges: bool,
    /// `add_bos_token` when the file does not say.
    add_bos: bool,
}

const PLAIN: Traits = Traits { ignore_merges: false, add_bos: false };
const WHOLE_WORDS: Traits = Traits { ignore_merges: true, add_bos: false };
const WHOLE_WORDS_BOS: Traits = Traits { ignore_merges: true, add_bos: true };
const BOS: Traits = Traits { ignore_merges: false, add_bos: true };

/// Every name webmoe builds, with the regexes and traits llama.cpp b11739 gives it.
const NAMES: &[(&str, Splits, Traits)] = &[
    ("default", DEFAULT, PLAIN),
    ("gpt-2", GPT2, PLAIN),
    ("phi-2", GPT2, PLAIN),
    ("mpt", GPT2, PLAIN),
    ("olmo", GPT2, PLAIN),
    ("jais", GPT2, PLAIN),
    ("gigachat", GPT2, PLAIN),
    ("jina-es", GPT2, PLAIN),
    ("jina-de", GPT2, PLAIN),
    ("jina-v2-es", GPT2, PLAIN),
    ("jina-v2-de", GPT2, PLAIN),
    ("a.x-4.0", GPT2, PLAIN),
    ("mellum", GPT2, PLAIN),
    ("modern-bert", GPT2, PLAIN),
    ("exaone4", GPT2, PLAIN),
    ("trillion", GPT2, PLAIN),
    ("granite-docling", GPT2, PLAIN),
    ("smollm", DIGITS_THEN_GPT2, PLAIN),
    ("starcoder", DIGITS_THEN_GPT2, PLAIN),
    ("refact", DIGITS_THEN_GPT2, PLAIN),
    ("command-r", DIGITS_THEN_GPT2, PLAIN),
    ("codeshell", DIGITS_THEN_GPT2, PLAIN),
    ("exaone", DIGITS_THEN_GPT2, PLAIN),
    ("minerva-7b", DIGITS_THEN_GPT2, PLAIN),
    ("mellum2", DIGITS_THEN_GPT2, PLAIN),
    ("falcon", FALCON, PLAIN),
    ("llama3", LLAMA3, WHOLE_WORDS_BOS),
    ("llama-v3", LLAMA3, WHOLE_WORDS_BOS),
    ("llama-bpe", LLAMA3, WHOLE_WORDS_BOS),
    ("falcon3", LLAMA3, WHOLE_WORDS_BOS),
    ("falcon-h1", LLAMA3, WHOLE_WORDS_BOS),
    ("pixtral", LLAMA3, WHOLE_WORDS_BOS),
    ("midm-2.0", LLAMA3, WHOLE_WORDS_BOS),
    ("lfm2", LLAMA3, WHOLE_WORDS_BOS),
    ("jina-v5-nano", LLAMA3, WHOLE_WORDS_BOS),
    ("dbrx", LLAMA3, PLAIN),
    ("smaug-bpe", LLAMA3, PLAIN),
    ("chatglm-bpe", LLAMA3, PLAIN),
    ("glm4", LLAMA3, WHOLE_WORDS),
    ("glm5", LLAMA3, WHOLE_WORDS),
    ("jais-2", JAIS2, PLAIN),
    ("minicpm5", MINICPM5, WHOLE_WORDS),
    ("qwen2", QWEN2, PLAIN),
    ("deepseek-r1-qwen", QWEN2, PLAIN),
    ("stablelm2", QWEN2, PLAIN),
    ("megrez", QWEN2, PLAIN),
    ("kormo", QWEN2, PLAIN),
    ("f2llmv2", QWEN2, PLAIN),
    ("hunyuan", QWEN2, PLAIN),
    ("solar-open", QWEN2, PLAIN),
    ("grok-2", QWEN2, PLAIN),
    ("qwen35", QWEN35, PLAIN),
    ("bailingmoe", BAILINGMOE, PLAIN),
    ("bailingmoe2", BAILINGMOE, PLAIN),
    ("llada-moe", BAILINGMOE, PLAIN),
    ("seed-coder", SEED_CODER, PLAIN),
    ("ufakzeka", UFAKZEKA, PLAIN),
    ("exaone-moe", EXAONE_MOE, PLAIN),
    ("laguna", LAGUNA, PLAIN),
    ("gpt-4o", GPT4O, PLAIN),
    ("llama4", GPT4O, PLAIN),
    ("kanana2", GPT4O, PLAIN),
    ("talkie", GPT4O, PLAIN),
    ("minimax-m2", GPT4O, PLAIN),
    ("tekken", TEKKEN, WHOLE_WORDS_BOS),
    ("granite-embed-multi-97m", GRANITE_EMBED, WHOLE_WORDS),
    ("tiny_aya", TINY_AYA, PLAIN),
    ("cohere2moe", TINY_AYA, PLAIN),
    ("youtu", YOUTU, WHOLE_WORDS),
    ("kimi-k2", KIMI_K2, PLAIN),
    ("k2-horizon", K2_HORIZON, PLAIN),
    ("deepseek-v3", DEEPSEEK_V3, PLAIN),
    ("hunyuan-dense", DEEPSEEK_V3, PLAIN),
    ("hy_v4", DEEPSEEK_V3, PLAIN),
    ("joyai-llm", DEEPSEEK_V3, PLAIN),
    ("spark2_5", SPARK25, PLAIN),
    ("afmoe", AFMOE, PLAIN),
    ("deepseek-llm", DEEPSEEK_LLM, PLAIN),
    ("deepseek-coder", DEEPSEEK_CODER, PLAIN),
    ("poro-chat", BLOOM, PLAIN),
    ("bloom", BLOOM, PLAIN),
    ("gpt3-finnish", BLOOM, PLAIN),
    ("viking", VIKING, PLAIN),
    ("chameleon", CHAMELEON, BOS),
];

/// The names [`PreTokenizer::from_name`] accepts.
pub(super) fn supported_names() -> impl Iterator<Item = &'static str> {
    NAMES.iter().map(|(name, _, _)| *name)
}

/// How a byte-level BPE vocabulary splits text into words before merging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PreTokenizer {
    splits: Splits,
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
        let &(_, splits, traits) =
            NAMES.iter().find(|(n, _, _)| *n == name).ok_or_else(|| TokenizerError::UnsupportedPreTokenizer {
                pre: name.to_string(),
                supported: supported_names().collect::<Vec<_>>().join(", "),
            })?;
        Ok(PreTokenizer { splits, ignore_merges: traits.ignore_merges, add_bos_default: traits.add_bos })
    }

    /// The passes in order, then bytes mapped to GPT-2's printable characters (without its regex).
    pub(super) fn to_wrapper(&self) -> Result<PreTokenizerWrapper, TokenizerError> {
        let mut steps = self.splits.iter().map(|&step| split(step)).collect::<Result<Vec<_>, _>>()?;
        steps.push(ByteLevel::new(false, true, false).into());
        Ok(Sequence::new(steps).into())
    }
}

fn split(step: Step) -> Result<PreTokenizerWrapper, TokenizerError> {
    let (regex, behavior) = match step {
        Isolate(regex) => (regex, SplitDelimiterBehavior::Isolated),
        EndPiece(regex) => (regex, SplitDelimiterBehavior::MergedWithPrevious),
    };
    Split::new(SplitPattern::Regex(regex.to_string()), behavior, false).map(Into::into).map_err(TokenizerError::build)
}
