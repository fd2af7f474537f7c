//! A tokenizer's vocabulary as llguidance needs it: each id's bytes in a token trie (special
//! tokens marked so that no text matches them), the end-of-generation ids, and the parser
//! factory holding both and the token classes precomputed from them.

use std::sync::Arc;

use llguidance::toktrie::{TokRxInfo, TokTrie, TokenId, TokenizerEnv};
use llguidance::{Matcher, ParserFactory};

use super::format::OPTION;
use super::{Constraint, ResponseFormat};
use crate::error::{Error, Result};
use crate::tokenizer::{TokenPiece, Tokenizer};

/// What formats are compiled against; build once per tokenizer and model (seconds of CPU work
/// for a large vocabulary, then shared by every [`Constraint`]). Cloning is cheap.
#[derive(Clone)]
pub struct Vocabulary {
    factory: Arc<ParserFactory>,
    n_vocab: usize,
}

/// The trie as llguidance's tokenizer interface. Text is only tokenized to force tokens, which
/// this runtime does not ask for, so the trie's greedy tokenization serves and is declared
/// non-canonical.
struct TrieEnv {
    trie: TokTrie,
}

impl TokenizerEnv for TrieEnv {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, s: &[u8]) -> Vec<TokenId> {
        self.trie.greedy_tokenize(s)
    }

    fn tokenize_is_canonical(&self) -> bool {
        false
    }
}

impl Vocabulary {
    /// The vocabulary of `tokenizer` for a model of `n_vocab` logits (ids past the tokenizer's
    /// entries are never allowed). Refuses a tokenizer whose bytes per id cannot be told, or that
    /// has no end-of-generation id below `n_vocab` (a format could never end).
    pub fn new(tokenizer: &Tokenizer, n_vocab: usize) -> Result<Vocabulary> {
        let words: Vec<Vec<u8>> = tokenizer.token_pieces(n_vocab)?.into_iter().map(trie_word).collect();
        let ends: Vec<u32> = tokenizer
            .special_tokens()
            .end_of_generation
            .iter()
            .copied()
            .filter(|&id| (id as usize) < n_vocab)
            .collect();
        let Some(&first_end) = ends.first() else {
            return Err(unsupported(
                "the tokenizer has no end-of-generation token, so a constrained reply could not end",
            ));
        };
        let trie = TokTrie::from(&TokRxInfo::new(n_vocab as u32, first_end), &words).with_eos_tokens(&ends);
        let env: Arc<dyn TokenizerEnv + Sync> = Arc::new(TrieEnv { trie });
        let mut factory = ParserFactory::new_simple(&env).map_err(|e| unsupported(&e.to_string()))?;
        factory.quiet();
        Ok(Vocabulary { factory: Arc::new(factory), n_vocab })
    }

    /// The constraint for `format`, its first mask computed. Refuses a schema llguidance cannot
    /// compile, with its reason.
    pub fn compile(&self, format: &ResponseFormat) -> Result<Constraint> {
        let refuse = |why: String| Error::InvalidOption { option: OPTION.into(), value: format.preview(), why };
        let parser = self
            .factory
            .create_parser(format.grammar())
            .map_err(|e| refuse(format!("the schema cannot be used: {e}; fix or simplify it")))?;
        Constraint::start(Matcher::new(Ok(parser)), self.n_vocab).map_err(|e| match e {
            Error::Constraint { reason } => refuse(format!("the schema allows no reply: {reason}")),
            other => other,
        })
    }

    /// Logits the masks cover.
    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }
}

/// An id's word in the trie: its bytes; a special token's text behind llguidance's marker byte
/// (0xFF, never in UTF-8 text); nothing for an unused id.
fn trie_word(piece: TokenPiece) -> Vec<u8> {
    match piece {
        TokenPiece::Bytes(bytes) => bytes,
        TokenPiece::Special(text) => [&[TokTrie::SPECIAL_TOKEN_MARKER], text.as_bytes()].concat(),
        TokenPiece::Unused => Vec::new(),
    }
}

fn unsupported(why: &str) -> Error {
    Error::Constraint { reason: format!("not available for this model: {why}") }
}
