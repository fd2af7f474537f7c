//! Text ⇄ token ids, on the `tokenizers` crate.
//!
//! A [`Tokenizer`] comes from a Hugging Face `tokenizer.json` ([`Tokenizer::from_json`]) or from
//! the vocabulary a GGUF file carries in its `tokenizer.ggml.*` metadata ([`Tokenizer::from_gguf`]):
//! SentencePiece-BPE (`llama`: Mistral, Mixtral, Llama 2) and byte-level BPE (`gpt2`: SmolLM2,
//! Llama 3, Qwen 2). Both take bytes, never paths, so the same code runs in the browser.
//!
//! Special tokens (BOS, EOS, `<|im_start|>`, …) are never produced from text unless the caller asks
//! for it with `parse_special`: user text that happens to contain `<s>` stays text, while a rendered
//! chat template (see [`chat`]) is encoded with its markers as single ids.

mod bpe;
pub mod chat;
mod error;
mod from_gguf;
mod from_json;
mod harmony;
#[cfg(not(target_arch = "wasm32"))]
mod native;
mod pieces;
mod pre;
mod special;
mod spm;
mod stream;

use std::sync::Arc;

pub use chat::{ChatMessage, ChatTemplate};
pub use error::TokenizerError;
pub use harmony::{HarmonyMarkers, HarmonyReader};
pub use pieces::TokenPiece;
pub use stream::StreamDecoder;

use special::{Piece, SpecialMatcher};

/// Token ids with a role in prompts and generation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    /// End of turn, where the vocabulary has one apart from EOS (`tokenizer.ggml.eot_token_id`).
    pub eot: Option<u32>,
    /// End of message before a tool call (`tokenizer.ggml.eom_token_id`).
    pub eom: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    /// `encode(_, add_special = true)` puts `bos` first.
    pub add_bos: bool,
    /// `encode(_, add_special = true)` puts `eos` last.
    pub add_eos: bool,
    /// Ids that end generation, sorted: EOS, the GGUF's EOT/EOM ids, and special (control) tokens
    /// whose text is a known end-of-turn marker such as `<|im_end|>` or `<|eot_id|>`.
    pub end_of_generation: Vec<u32>,
    /// gpt-oss's harmony markers, when the vocabulary has them: replies are channelled messages.
    pub harmony: Option<HarmonyMarkers>,
}

/// Texts that mark the end of a turn in the chat formats in use. A special token with one of these
/// texts ends generation even when the metadata names another EOS (ChatML models end turns with
/// `<|im_end|>` but declare `<|endoftext|>` as EOS, or the other way round).
const END_OF_TURN_TEXTS: &[&str] = &[
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    // gpt-oss (harmony): the reply is done, or stops at a tool call.
    "<|return|>",
    "<|call|>",
    // Solar Open: the same two roles.
    "<|flush|>",
    "<|calls|>",
];

/// Formats whose `<|end|>` closes one message of a reply that goes on (harmony's analysis channel
/// before the final one), told apart, as llama.cpp does, by the pair of tokens that do end a reply.
const REPLY_GOES_ON_AFTER_END: &[[&str; 2]] = &[["<|return|>", "<|call|>"], ["<|flush|>", "<|calls|>"]];

/// A tokenizer and the ids that matter around it. Cloning is cheap (shared state).
#[derive(Clone)]
pub struct Tokenizer {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    /// Splits special tokens out of text only when told: `encode_special_tokens` is set, so the
    /// `tokenizers` pipeline treats special-token text as plain text and [`SpecialMatcher`] does
    /// the parse-special split. The post-processor is removed: BOS/EOS come from `specials`.
    hf: tokenizers::Tokenizer,
    specials: SpecialTokens,
    matcher: SpecialMatcher,
    /// Number of token ids (the model's embedding rows for a GGUF vocabulary).
    vocab_size: usize,
    chat_template: Option<String>,
}

impl Tokenizer {
    fn new(
        mut hf: tokenizers::Tokenizer,
        specials: SpecialTokens,
        vocab_size: usize,
        chat_template: Option<String>,
    ) -> Tokenizer {
        hf.set_encode_special_tokens(true);
        let matcher = SpecialMatcher::new(
            hf.get_added_tokens_decoder().into_iter().filter(|(_, t)| t.special).map(|(id, t)| (t.content, id)),
        );
        Tokenizer::from_inner(Inner { hf, specials, matcher, vocab_size, chat_template })
    }

    /// Completes the special tokens with the end-of-generation set, which depends on all of them.
    fn from_inner(mut inner: Inner) -> Tokenizer {
        let s = &inner.specials;
        inner.specials.end_of_generation = end_of_generation_ids([s.eos, s.eot, s.eom], inner.matcher.tokens());
        inner.specials.harmony = HarmonyMarkers::find(inner.matcher.tokens());
        Tokenizer { inner: Arc::new(inner) }
    }

    /// Text to ids, with BOS/EOS per the metadata when `add_special`; special-token text in `text`
    /// stays plain text (llama.cpp's default for user prompts).
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>, TokenizerError> {
        self.encode_with(text, add_special, false)
    }

    /// Text to ids. With `parse_special`, the text of a special token (`<s>`, `<|im_start|>`)
    /// becomes that token's id, as a rendered chat template needs; text between special tokens is
    /// tokenized on its own, as llama.cpp and Hugging Face do.
    pub fn encode_with(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let specials = &self.inner.specials;
        let mut ids = Vec::with_capacity(text.len() / 3 + 2);
        if add_special && specials.add_bos {
            ids.extend(specials.bos);
        }
        let pieces = if parse_special { self.inner.matcher.split(text) } else { vec![Piece::Text(text)] };
        for piece in pieces {
            match piece {
                Piece::Special(id) => ids.push(id),
                Piece::Text(t) => {
                    let encoding = self
                        .inner
                        .hf
                        .encode_fast(t, false)
                        .map_err(|e| TokenizerError::Encode { reason: e.to_string() })?;
                    ids.extend_from_slice(encoding.get_ids());
                }
            }
        }
        if add_special && specials.add_eos {
            ids.extend(specials.eos);
        }
        Ok(ids)
    }

    /// Ids to text. Special tokens (BOS, EOS, chat markers) are left out; byte tokens are joined
    /// into UTF-8 (invalid sequences become U+FFFD), and a SentencePiece vocabulary's leading space
    /// is removed.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        self.check_ids(ids)?;
        self.inner.hf.decode(ids, true).map_err(|e| TokenizerError::Decode { reason: e.to_string() })
    }

    /// A decoder for generated ids, fed one at a time.
    pub fn stream_decoder(&self) -> StreamDecoder {
        StreamDecoder::new(self.clone())
    }

    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.inner.specials
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.inner.specials.bos
    }

    pub fn eos_id(&self) -> Option<u32> {
        self.inner.specials.eos
    }

    /// Whether `encode(_, add_special = true)` starts with BOS.
    pub fn add_bos(&self) -> bool {
        self.inner.specials.add_bos && self.inner.specials.bos.is_some()
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.vocab_size
    }

    /// Whether generating `id` ends the reply (see [`SpecialTokens::end_of_generation`]).
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.inner.specials.end_of_generation.binary_search(&id).is_ok()
    }

    /// The vocabulary entry of `id` as stored (`▁Hello`, `<0x0A>`, `Ġworld`), not decoded text.
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.inner.hf.id_to_token(id)
    }

    /// The Jinja chat template (`tokenizer.chat_template`), when the model has one.
    pub fn chat_template(&self) -> Option<&str> {
        self.inner.chat_template.as_deref()
    }

    /// Renders the model's chat template for `messages` and encodes the result with its special
    /// tokens parsed. BOS is added per the metadata unless the template already wrote it.
    pub fn encode_chat(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let source = self.chat_template().ok_or(TokenizerError::NoChatTemplate)?;
        let text_of = |id: Option<u32>| id.and_then(|id| self.token_text(id)).unwrap_or_default();
        let bos = text_of(self.bos_id());
        let eos = text_of(self.eos_id());
        let prompt = ChatTemplate::new(source)?.render(messages, add_generation_prompt, &bos, &eos)?;
        let mut ids = self.encode_with(&prompt, false, true)?;
        if let Some(bos) = self.bos_id().filter(|_| self.add_bos()) {
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    fn check_ids(&self, ids: &[u32]) -> Result<(), TokenizerError> {
        match ids.iter().find(|&&id| id as usize >= self.inner.vocab_size) {
            Some(&id) => Err(TokenizerError::IdOutOfRange {
                what: "token".into(),
                id: id as u64,
                vocab_size: self.inner.vocab_size,
            }),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.inner.vocab_size)
            .field("specials", &self.inner.specials)
            .field("chat_template", &self.inner.chat_template.is_some())
            .finish()
    }
}

/// The end-of-generation set: `explicit` ids (EOS, EOT, EOM) plus every special token whose text
/// is in [`END_OF_TURN_TEXTS`], less `<|end|>` in the formats of [`REPLY_GOES_ON_AFTER_END`] (even
/// where the metadata names it, as llama.cpp drops it); sorted and deduplicated.
fn end_of_generation_ids<'a>(
    explicit: impl IntoIterator<Item = Option<u32>>,
    special_tokens: impl IntoIterator<Item = (u32, &'a str)>,
) -> Vec<u32> {
    let special: Vec<(u32, &str)> = special_tokens.into_iter().collect();
    let has = |text: &str| special.iter().any(|&(_, t)| t == text);
    let end_goes_on = REPLY_GOES_ON_AFTER_END.iter().any(|pair| pair.iter().all(|&t| has(t)));
    let mut ids: Vec<u32> = explicit.into_iter().flatten().collect();
    ids.extend(special.iter().filter(|(_, text)| END_OF_TURN_TEXTS.contains(text)).map(|&(id, _)| id));
    if end_goes_on {
        ids.retain(|id| !special.iter().any(|&(end, text)| end == *id && text == "<|end|>"));
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests;
