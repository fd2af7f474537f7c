//! A tokenizer from a GGUF file's `tokenizer.ggml.*` metadata, for files that come without a
//! tokenizer.json (nearly all of them).

use tokenizers::models::bpe::Vocab;
use tokenizers::AddedToken;

use super::{bpe, spm, SpecialTokens, Tokenizer, TokenizerError};
use crate::gguf::{Gguf, GgufError};

pub(super) const MODEL: &str = "tokenizer.ggml.model";
pub(super) const TOKENS: &str = "tokenizer.ggml.tokens";
pub(super) const TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
pub(super) const CHAT_TEMPLATE: &str = "tokenizer.chat_template";
const BOS_ID: &str = "tokenizer.ggml.bos_token_id";
const EOS_ID: &str = "tokenizer.ggml.eos_token_id";
const EOT_ID: &str = "tokenizer.ggml.eot_token_id";
const EOM_ID: &str = "tokenizer.ggml.eom_token_id";
pub(super) const UNK_ID: &str = "tokenizer.ggml.unknown_token_id";
const PAD_ID: &str = "tokenizer.ggml.padding_token_id";
const ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
const ADD_EOS: &str = "tokenizer.ggml.add_eos_token";

/// `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenType {
    Undefined,
    Normal,
    Unknown,
    /// BOS, EOS, chat markers: special, never produced from text unless asked.
    Control,
    /// Always matched whole in text, before the model sees it.
    UserDefined,
    Unused,
    /// `<0x00>`..`<0xFF>`, the byte fallback of SentencePiece vocabularies.
    Byte,
}

impl TokenType {
    fn from_id(id: i64) -> TokenType {
        match id {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Undefined,
        }
    }
}

/// The vocabulary as the file stores it: entry `i` is token id `i`.
pub(super) struct GgufVocab<'a> {
    pub tokens: &'a [String],
    pub types: Vec<TokenType>,
}

impl<'a> GgufVocab<'a> {
    fn read(g: &'a Gguf) -> Result<Self, TokenizerError> {
        let tokens = strings(g, TOKENS)?.ok_or_else(|| TokenizerError::MissingKey { key: TOKENS.into() })?;
        let types = match g.array_opt(TOKEN_TYPE)? {
            None => vec![TokenType::Normal; tokens.len()],
            Some(a) => {
                let ids = a.to_i64_vec().ok_or_else(|| wrong_type(TOKEN_TYPE, "an integer array", g))?;
                check_len(TOKEN_TYPE, ids.len(), tokens.len())?;
                ids.into_iter().map(TokenType::from_id).collect()
            }
        };
        Ok(GgufVocab { tokens, types })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Text to id. Empty entries (padding rows some converters write) are left out: no text
    /// produces them and they decode to nothing.
    pub fn to_map(&self) -> Result<Vocab, TokenizerError> {
        let mut map = Vocab::with_capacity(self.tokens.len());
        for (id, text) in self.tokens.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
            if let Some(first) = map.insert(text.clone(), id as u32) {
                return Err(TokenizerError::DuplicateToken { text: text.clone(), first, second: id as u32 });
            }
        }
        Ok(map)
    }

    /// Tokens matched whole in text before the model runs: control and unknown tokens as special
    /// (only with parse-special), user-defined tokens as plain added tokens (always).
    fn added_tokens(&self) -> (Vec<AddedToken>, Vec<AddedToken>) {
        let (mut special, mut user_defined) = (Vec::new(), Vec::new());
        for (text, ty) in self.tokens.iter().zip(&self.types).filter(|(t, _)| !t.is_empty()) {
            match ty {
                TokenType::Control | TokenType::Unknown => special.push(AddedToken::from(text.clone(), true)),
                TokenType::UserDefined => user_defined.push(AddedToken::from(text.clone(), false).normalized(false)),
                _ => {}
            }
        }
        (special, user_defined)
    }
}

/// What a vocabulary type implies when the metadata is silent.
pub(super) struct Defaults {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub add_bos: bool,
}

impl Tokenizer {
    /// Builds the tokenizer a GGUF file describes: `tokenizer.ggml.model` "llama" (SentencePiece
    /// BPE with scores and byte fallback) or "gpt2" (byte-level BPE with merges and a named
    /// pre-tokenizer), with special ids and flags from the metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer, TokenizerError> {
        let model = g.str_opt(MODEL)?.ok_or_else(|| TokenizerError::MissingKey { key: MODEL.into() })?;
        let vocab = GgufVocab::read(g)?;
        let (mut hf, defaults) = match model {
            "llama" => spm::build(g, &vocab)?,
            "gpt2" => bpe::build(g, &vocab)?,
            other => return Err(TokenizerError::UnsupportedModel { model: other.to_string() }),
        };
        let (special, user_defined) = vocab.added_tokens();
        hf.add_special_tokens(&special);
        hf.add_tokens(&user_defined);
        let mut specials = SpecialTokens {
            bos: defaults.bos.filter(|&id| (id as usize) < vocab.len()),
            eos: defaults.eos.filter(|&id| (id as usize) < vocab.len()),
            unk: defaults.unk.filter(|&id| (id as usize) < vocab.len()),
            add_bos: defaults.add_bos,
            ..SpecialTokens::default()
        };
        apply_special_metadata(g, &mut specials, vocab.len())?;
        let chat_template = g.str_opt(CHAT_TEMPLATE)?.map(str::to_string);
        Ok(Tokenizer::new(hf, specials, vocab.len(), chat_template))
    }

    /// This tokenizer with the special ids, add-BOS/EOS flags and chat template that `g` sets
    /// (keys the file lacks keep their current values): a tokenizer.json beside a GGUF model
    /// defers to the model file, as llama.cpp does.
    pub fn with_gguf_metadata(self, g: &Gguf) -> Result<Tokenizer, TokenizerError> {
        let mut inner = std::sync::Arc::unwrap_or_clone(self.inner);
        apply_special_metadata(g, &mut inner.specials, inner.vocab_size)?;
        if let Some(template) = g.str_opt(CHAT_TEMPLATE)? {
            inner.chat_template = Some(template.to_string());
        }
        Ok(Tokenizer::from_inner(inner))
    }
}

/// Overrides `specials` with the ids and flags `g` sets. An id outside the vocabulary is an error,
/// except the padding id, which inference never uses.
fn apply_special_metadata(g: &Gguf, specials: &mut SpecialTokens, vocab_size: usize) -> Result<(), TokenizerError> {
    let slots: [(&str, &mut Option<u32>); 5] = [
        (BOS_ID, &mut specials.bos),
        (EOS_ID, &mut specials.eos),
        (EOT_ID, &mut specials.eot),
        (EOM_ID, &mut specials.eom),
        (UNK_ID, &mut specials.unk),
    ];
    for (key, slot) in slots {
        if let Some(id) = g.u64_opt(key)? {
            if id >= vocab_size as u64 {
                return Err(TokenizerError::IdOutOfRange { what: key.to_string(), id, vocab_size });
            }
            *slot = Some(id as u32);
        }
    }
    if let Some(id) = g.u64_opt(PAD_ID)?.filter(|&id| id < vocab_size as u64) {
        specials.pad = Some(id as u32);
    }
    specials.add_bos = g.bool_opt(ADD_BOS)?.unwrap_or(specials.add_bos);
    specials.add_eos = g.bool_opt(ADD_EOS)?.unwrap_or(specials.add_eos);
    if specials.add_bos && specials.bos.is_none() {
        return Err(TokenizerError::MissingSpecialToken {
            flag: ADD_BOS.into(),
            what: "BOS".into(),
            id_key: BOS_ID.into(),
        });
    }
    if specials.add_eos && specials.eos.is_none() {
        return Err(TokenizerError::MissingSpecialToken {
            flag: ADD_EOS.into(),
            what: "EOS".into(),
            id_key: EOS_ID.into(),
        });
    }
    Ok(())
}

/// A string-array key, if present.
pub(super) fn strings<'a>(g: &'a Gguf, key: &str) -> Result<Option<&'a [String]>, TokenizerError> {
    g.array_opt(key)?.map(|a| a.as_strings().ok_or_else(|| wrong_type(key, "a string array", g))).transpose()
}

pub(super) fn check_len(key: &str, found: usize, expected: usize) -> Result<(), TokenizerError> {
    if found == expected {
        Ok(())
    } else {
        Err(TokenizerError::LengthMismatch { key: key.to_string(), found, expected })
    }
}

pub(super) fn wrong_type(key: &str, expected: &str, g: &Gguf) -> TokenizerError {
    let found = g.get(key).map(|v| v.to_string()).unwrap_or_default();
    TokenizerError::Metadata(GgufError::WrongType { key: key.to_string(), expected: expected.to_string(), found })
}
