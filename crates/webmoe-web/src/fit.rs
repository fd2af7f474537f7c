//! Context management: what runs when a request does not fit the context (`contextOverflow`).
//!
//! A request fits when its prompt and the tokens it asks for fit: `n` tokens after a prompt of
//! `p` need `p + n − 1` positions (the last generated token is never fed). Without `maxTokens`,
//! a reply of [`reserve`] tokens is what must fit.
//! - `error` (the default): a request that does not fit is refused before anything runs.
//! - `truncate-middle`: the leading system messages stay, and the oldest turns after them are
//!   dropped, as few as make the request fit; a conversation restarts at a user message, so
//!   that templates requiring alternating turns accept it. A token prompt keeps its beginning
//!   and its end, dropping tokens from the middle.
//! - `shift`: as `truncate-middle`, but turns are dropped until the prompt takes at most half of
//!   the room left for it, as llama.cpp's context shift discards half of what follows the kept
//!   prefix: the turns that follow then extend the cached conversation for a while instead of
//!   each dropping a turn and running the whole conversation again. A token prompt keeps its
//!   first token when it is BOS, and its end.
//!
//! When even the system messages and the last turn do not fit, the request is refused as with
//! `error`.

use webmoe::tokenizer::ChatMessage;
use webmoe::{Error, Result};

use crate::options::DEFAULT_MAX_TOKENS;

/// `contextOverflow`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    #[default]
    Error,
    TruncateMiddle,
    Shift,
}

impl Overflow {
    pub fn parse(name: Option<&str>) -> Result<Overflow> {
        match name {
            None | Some("error") => Ok(Overflow::Error),
            Some("truncate-middle") => Ok(Overflow::TruncateMiddle),
            Some("shift") => Ok(Overflow::Shift),
            Some(other) => Err(Error::InvalidOption {
                option: "contextOverflow".into(),
                value: other.into(),
                why: "use \"error\", \"truncate-middle\" or \"shift\"".into(),
            }),
        }
    }
}

/// Tokens of reply a request must leave room for: `maxTokens` when given, else the default reply
/// length capped at a quarter of the context.
pub fn reserve(max_tokens: Option<usize>, context: usize) -> usize {
    max_tokens.unwrap_or(DEFAULT_MAX_TOKENS.min(context / 4)).max(1)
}

/// Most prompt tokens that leave room for `reserve` generated tokens.
fn room(context: usize, reserve: usize) -> usize {
    (context + 1).saturating_sub(reserve)
}

/// A conversation's prompt ids after `overflow`, and how many messages were dropped. `encode`
/// renders and tokenizes messages with the chat template.
pub fn fit_messages(
    messages: &[ChatMessage],
    overflow: Overflow,
    context: usize,
    reserve: usize,
    encode: impl Fn(&[ChatMessage]) -> Result<Vec<u32>>,
) -> Result<(Vec<u32>, usize)> {
    let ids = encode(messages)?;
    let room = room(context, reserve);
    if ids.len() <= room || overflow == Overflow::Error {
        return Ok((ids, 0));
    }
    let system = messages.iter().take_while(|m| m.role == "system").count();
    // Where the kept turns may begin, fewest dropped first: a user message after the system
    // messages, or the last message when no user message follows the first turn.
    let mut cuts: Vec<usize> = (system + 1..messages.len()).filter(|&i| messages[i].role == "user").collect();
    if cuts.is_empty() && messages.len() > system + 1 {
        cuts.push(messages.len() - 1);
    }
    let without = |cut: usize| -> Result<Vec<u32>> {
        let kept: Vec<ChatMessage> = messages[..system].iter().chain(&messages[cut..]).cloned().collect();
        encode(&kept)
    };
    let target = if overflow == Overflow::Shift { room / 2 } else { room };
    let found = match first_fitting(&cuts, target, &without)? {
        Some(found) => Some(found),
        None if overflow == Overflow::Shift => first_fitting(&cuts, room, &without)?,
        None => None,
    };
    match found {
        Some((cut, ids)) => Ok((ids, cut - system)),
        // Nothing fits: the shortest form is refused with the positions it needs.
        None => match cuts.last() {
            Some(&cut) => Ok((without(cut)?, cut - system)),
            None => Ok((ids, 0)),
        },
    }
}

/// The first cut (fewest messages dropped) whose prompt has at most `limit` ids, by bisection:
/// a later cut drops more and never gives a longer prompt.
fn first_fitting(
    cuts: &[usize],
    limit: usize,
    without: &impl Fn(usize) -> Result<Vec<u32>>,
) -> Result<Option<(usize, Vec<u32>)>> {
    let (mut lo, mut hi) = (0, cuts.len());
    let mut best = None;
    while lo < hi {
        let mid = (lo + hi) / 2;
        let ids = without(cuts[mid])?;
        if ids.len() <= limit {
            best = Some((cuts[mid], ids));
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(best)
}

/// A token prompt after `overflow`, and how many ids were dropped. `bos`: the model's BOS id
/// when prompts start with it.
pub fn fit_ids(
    ids: Vec<u32>,
    overflow: Overflow,
    context: usize,
    reserve: usize,
    bos: Option<u32>,
) -> (Vec<u32>, usize) {
    let room = room(context, reserve);
    if ids.len() <= room || overflow == Overflow::Error || room == 0 {
        return (ids, 0);
    }
    let head = match overflow {
        Overflow::Shift => usize::from(bos.is_some() && ids.first() == bos.as_ref()).min(room),
        _ => room / 2,
    };
    let tail = room - head;
    let dropped = ids.len() - room;
    let kept = ids[..head].iter().chain(&ids[ids.len() - tail..]).copied().collect();
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: &str, content: &str) -> ChatMessage {
        ChatMessage::new(role, content)
    }

    /// One id per character of every message, plus one per message: a stand-in template.
    fn encode(messages: &[ChatMessage]) -> Result<Vec<u32>> {
        Ok(messages.iter().flat_map(|m| std::iter::once(0).chain(m.content.chars().map(|c| c as u32))).collect())
    }

    fn conversation() -> Vec<ChatMessage> {
        vec![
            message("system", "sys"),     // 4 ids
            message("user", "aaaaaaaaa"), // 10
            message("assistant", "bbbb"), // 5
            message("user", "ccccccccc"), // 10
            message("assistant", "dddd"), // 5
            message("user", "eeee"),      // 5
        ]
    }

    #[test]
    fn a_request_that_fits_runs_as_given() {
        for overflow in [Overflow::Error, Overflow::TruncateMiddle, Overflow::Shift] {
            let (ids, dropped) = fit_messages(&conversation(), overflow, 40, 2, encode).unwrap();
            assert_eq!((ids.len(), dropped), (39, 0), "{overflow:?}");
        }
    }

    #[test]
    fn error_leaves_an_oversized_request_for_the_context_check() {
        let (ids, dropped) = fit_messages(&conversation(), Overflow::Error, 30, 2, encode).unwrap();
        assert_eq!((ids.len(), dropped), (39, 0));
    }

    #[test]
    fn truncate_middle_drops_the_fewest_oldest_turns_and_keeps_the_system_prompt() {
        // Room 29: without the first turn (15 ids) the prompt is 24.
        let (ids, dropped) = fit_messages(&conversation(), Overflow::TruncateMiddle, 30, 2, encode).unwrap();
        assert_eq!((ids.len(), dropped), (24, 2));
        assert_eq!(&ids[..4], &[0, 's' as u32, 'y' as u32, 's' as u32], "the system prompt comes first");
        // Room 12: only the system prompt and the last turn (9 ids) fit.
        let (ids, dropped) = fit_messages(&conversation(), Overflow::TruncateMiddle, 13, 2, encode).unwrap();
        assert_eq!((ids.len(), dropped), (9, 4));
    }

    #[test]
    fn shift_frees_half_the_room() {
        // Room 29, half 14: dropping two turns leaves 9 ids.
        let (ids, dropped) = fit_messages(&conversation(), Overflow::Shift, 30, 2, encode).unwrap();
        assert_eq!((ids.len(), dropped), (9, 4));
        // Room 10, half 5: nothing reaches half, so as few are dropped as make it fit.
        let (ids, dropped) = fit_messages(&conversation(), Overflow::Shift, 11, 2, encode).unwrap();
        assert_eq!((ids.len(), dropped), (9, 4));
    }

    #[test]
    fn what_cannot_fit_is_its_shortest_form_for_the_context_check_to_refuse() {
        let (ids, dropped) = fit_messages(&conversation(), Overflow::TruncateMiddle, 6, 2, encode).unwrap();
        assert_eq!((ids.len(), dropped), (9, 4));
    }

    #[test]
    fn token_prompts_keep_their_ends() {
        let ids: Vec<u32> = (0..10).collect();
        assert_eq!(fit_ids(ids.clone(), Overflow::TruncateMiddle, 6, 1, Some(0)), (vec![0, 1, 2, 7, 8, 9], 4));
        assert_eq!(fit_ids(ids.clone(), Overflow::Shift, 6, 1, Some(0)), (vec![0, 5, 6, 7, 8, 9], 4));
        assert_eq!(fit_ids(ids.clone(), Overflow::Shift, 6, 1, None), (vec![4, 5, 6, 7, 8, 9], 4));
        assert_eq!(fit_ids(ids.clone(), Overflow::Error, 6, 1, None), (ids, 0));
    }

    #[test]
    fn the_reply_reserve_is_max_tokens_or_a_share_of_the_context() {
        assert_eq!(reserve(Some(10), 4096), 10);
        assert_eq!(reserve(None, 4096), DEFAULT_MAX_TOKENS);
        assert_eq!(reserve(None, 100), 25);
        assert_eq!(reserve(None, 2), 1);
    }

    #[test]
    fn unknown_policies_are_refused_by_name() {
        assert_eq!(Overflow::parse(Some("shift")), Ok(Overflow::Shift));
        assert!(
            matches!(Overflow::parse(Some("drop")), Err(Error::InvalidOption { option, .. }) if option == "contextOverflow")
        );
    }
}
