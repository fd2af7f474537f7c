//! What can go wrong when building or using a tokenizer. Every message says what is wrong and,
//! where there is one, what to do about it.

use thiserror::Error;

use crate::gguf::GgufError;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum TokenizerError {
    #[error("tokenizer.json could not be loaded: {reason} (is it a Hugging Face tokenizer.json file?)")]
    InvalidJson { reason: String },
    #[error(
        "the GGUF file has no {key}, so it carries no tokenizer; supply the model's tokenizer.json \
         or re-convert the model with a current llama.cpp"
    )]
    MissingKey { key: String },
    #[error("tokenizer metadata in the GGUF file is malformed: {0}")]
    Metadata(#[from] GgufError),
    #[error(
        "tokenizer model {model:?} (tokenizer.ggml.model) is not supported: webmoe builds \"llama\" \
         (SentencePiece) and \"gpt2\" (byte-level BPE) vocabularies; supply the model's tokenizer.json instead"
    )]
    UnsupportedModel { model: String },
    #[error(
        "pre-tokenizer {pre:?} (tokenizer.ggml.pre) is not supported; supported names: {supported}; \
         supply the model's tokenizer.json instead"
    )]
    UnsupportedPreTokenizer { pre: String, supported: String },
    #[error(
        "{key} has {found} entries but tokenizer.ggml.tokens has {expected}: the vocabulary metadata is inconsistent"
    )]
    LengthMismatch { key: String, found: usize, expected: usize },
    #[error("the vocabulary holds {text:?} twice, as ids {first} and {second}: the vocabulary metadata is damaged")]
    DuplicateToken { text: String, first: u32, second: u32 },
    #[error("entry {index} of tokenizer.ggml.merges, {merge:?}, is not two tokens separated by a space")]
    MalformedMerge { index: usize, merge: String },
    #[error("{what} id {id} is outside the vocabulary of {vocab_size} tokens")]
    IdOutOfRange { what: String, id: u64, vocab_size: usize },
    #[error(
        "a {what} token is to be added to prompts ({flag}, or its default for this vocabulary) but the \
         tokenizer defines none; set {id_key}, or set {flag} to false"
    )]
    MissingSpecialToken { flag: String, what: String, id_key: String },
    #[error(
        "the post-processor of tokenizer.json adds {count} tokens {place} the text; webmoe supports one \
         (a BOS before, an EOS after)"
    )]
    UnsupportedPostProcessor { count: usize, place: &'static str },
    #[error(
        "the vocabulary's pieces nest too deeply to derive its merges within {limit} bytes of work \
         (pieces built from other pieces, {longest} bytes at the longest): the vocabulary metadata is \
         damaged, or supply the model's tokenizer.json"
    )]
    MergesTooLarge { limit: u64, longest: usize },
    #[error("building the tokenizer failed: {reason}")]
    Build { reason: String },
    #[error("encoding text failed: {reason}")]
    Encode { reason: String },
    #[error("decoding token ids failed: {reason}")]
    Decode { reason: String },
    #[error("the model has no chat template (tokenizer.chat_template); format the prompt yourself")]
    NoChatTemplate,
    #[error("the chat template could not be compiled: {reason}")]
    ChatTemplateSyntax { reason: String },
    #[error("the chat template refused the conversation: {reason}")]
    ChatTemplateRender { reason: String },
    #[error(
        "the tokenizer's decoder is neither byte-level BPE nor SentencePiece, so the bytes each token \
         writes are unknown and output cannot be constrained to a format; generate without one"
    )]
    UnknownSpelling,
    #[error("reading {path}: {reason}")]
    Io { path: String, reason: String },
}

impl TokenizerError {
    pub(crate) fn build(e: impl std::fmt::Display) -> Self {
        TokenizerError::Build { reason: e.to_string() }
    }
}
