//! Masks and stepping without a model: a reply spelled through the masks, random walks over the
//! allowed ids, what a mask forbids, refused schemas, and the time one mask takes.

use std::time::Instant;

use super::*;
use crate::error::Error;
use crate::synthetic::Rng;

/// Every allowed id, in order.
fn allowed_ids(constraint: &Constraint) -> Vec<u32> {
    let words = constraint.allowed();
    (0..words.len() as u32 * 32).filter(|&id| words[id as usize / 32] >> (id % 32) & 1 == 1).collect()
}

/// The ids that spell `text` through the masks, each the longest allowed id whose bytes begin
/// the rest, and the constraint after them; fails where no allowed id continues the text.
fn spell(
    tokenizer: &Tokenizer,
    vocabulary: &Vocabulary,
    format: &ResponseFormat,
    text: &str,
) -> (Vec<u32>, Constraint) {
    let pieces = tokenizer.token_pieces(vocabulary.n_vocab()).unwrap();
    let mut constraint = vocabulary.compile(format).unwrap();
    let (mut rest, mut ids) = (text.as_bytes(), Vec::new());
    while !rest.is_empty() {
        let best = allowed_ids(&constraint)
            .into_iter()
            .filter_map(|id| match &pieces[id as usize] {
                TokenPiece::Bytes(b) if !b.is_empty() && rest.starts_with(b) => Some((b.len(), id)),
                _ => None,
            })
            .max();
        let Some((len, id)) = best else {
            panic!(
                "no allowed id continues {:?} after {:?}",
                String::from_utf8_lossy(rest),
                &text[..text.len() - rest.len()]
            )
        };
        constraint.advance(id).unwrap();
        ids.push(id);
        rest = &rest[len..];
    }
    (ids, constraint)
}

const PERSON: &str = r#"{"name": "Ada Lovelace", "age": 36, "role": "admin", "skills": ["maths", "engines"]}"#;

#[test]
fn a_valid_reply_is_spelled_through_the_masks_and_completes() {
    let format = ResponseFormat::JsonSchema(person_schema());
    let mut vocabularies = vec![("Mixtral", mixtral())];
    vocabularies.extend(smollm2().map(|v| ("SmolLM2", v)));
    for (what, (tokenizer, vocabulary)) in vocabularies {
        let (ids, constraint) = spell(tokenizer, vocabulary, &format, PERSON);
        assert!(constraint.is_complete(), "{what}: the constraint is complete after the closing brace");
        assert_eq!(text_of(tokenizer, &ids), PERSON.as_bytes(), "{what}");
        assert_eq!(person_problem(PERSON), None);
        let (_, object) = spell(tokenizer, vocabulary, &ResponseFormat::JsonObject, r#"{"a": [1, {"b": null}]}"#);
        assert!(object.is_complete(), "{what}: json_object completes after the object");
    }
}

#[test]
fn masks_forbid_what_the_schema_does_not_allow_next() {
    let format = ResponseFormat::JsonSchema(person_schema());
    let mut vocabularies = vec![("Mixtral", mixtral())];
    vocabularies.extend(smollm2().map(|v| ("SmolLM2", v)));
    for (what, (tokenizer, vocabulary)) in vocabularies {
        let pieces = tokenizer.token_pieces(vocabulary.n_vocab()).unwrap();
        let first_bytes = |constraint: &Constraint| -> Vec<u8> {
            let mut bytes: Vec<u8> = allowed_ids(constraint)
                .into_iter()
                .filter_map(|id| match &pieces[id as usize] {
                    TokenPiece::Bytes(b) => b.first().copied(),
                    _ => None,
                })
                .collect();
            bytes.sort_unstable();
            bytes.dedup();
            bytes
        };
        let start = vocabulary.compile(&format).unwrap();
        assert_eq!(first_bytes(&start), b"{", "{what}: a reply starts with the object");
        let ends = &tokenizer.special_tokens().end_of_generation;
        assert!(ends.iter().all(|&id| !start.allows(id)), "{what}: an empty reply may not end");

        let (_, at_age) = spell(tokenizer, vocabulary, &format, r#"{"name": "Ada", "age": "#);
        assert_eq!(first_bytes(&at_age), b"0123456789", "{what}: an integer ≥ 0 (no sign, no quote)");
        let (_, at_role) = spell(tokenizer, vocabulary, &format, r#"{"name": "Ada", "age": 3, "role": "#);
        assert_eq!(first_bytes(&at_role), b"\"", "{what}: the enum's strings");
        let (_, in_role) = spell(tokenizer, vocabulary, &format, r#"{"name": "Ada", "age": 3, "role": ""#);
        assert_eq!(first_bytes(&in_role), b"aev", "{what}: admin, editor or viewer");
        let (_, after_skills) = spell(
            tokenizer,
            vocabulary,
            &format,
            r#"{"name": "Ada", "age": 3, "role": "admin", "skills": ["a", "b", "c""#,
        );
        assert_eq!(first_bytes(&after_skills), b"\n ]", "{what}: maxItems 3 closes the array (after whitespace)");
        assert!(ends.iter().all(|&id| !after_skills.allows(id)), "{what}: ending inside the object");
        // Whitespace between two tokens of the JSON text: a space, or a newline and at most 20
        // spaces or tabs.
        let (_, indented) = spell(tokenizer, vocabulary, &format, &format!("{{\n{}", " ".repeat(20)));
        assert_eq!(first_bytes(&indented), b"\"", "{what}: after 20 spaces of indentation, the key");
        let (_, after_newline) = spell(tokenizer, vocabulary, &format, "{\n\t");
        assert_eq!(first_bytes(&after_newline), b"\t \"", "{what}: indentation or the key, no second newline");
        let (_, after_space) = spell(tokenizer, vocabulary, &format, "{ ");
        assert_eq!(first_bytes(&after_space), b"\"", "{what}: one space at most");
    }
}

/// Random walks: each step an allowed id drawn uniformly. Whatever is drawn, the text that
/// comes out validates.
#[test]
fn random_walks_over_allowed_ids_give_valid_replies() {
    let format = ResponseFormat::JsonSchema(person_schema());
    let mut vocabularies = vec![("Mixtral", mixtral())];
    vocabularies.extend(smollm2().map(|v| ("SmolLM2", v)));
    for (what, (tokenizer, vocabulary)) in vocabularies {
        for seed in 0..6 {
            let mut rng = Rng::new(seed);
            let mut constraint = vocabulary.compile(&format).unwrap();
            let mut ids = Vec::new();
            while !constraint.is_complete() {
                assert!(ids.len() < 1000, "{what}, seed {seed}: 1000 ids and no complete reply");
                let allowed = allowed_ids(&constraint);
                let id = allowed[rng.below(allowed.len() as u64) as usize];
                constraint.advance(id).unwrap();
                ids.push(id);
            }
            let text =
                String::from_utf8(text_of(tokenizer, &ids)).unwrap_or_else(|e| panic!("{what}, seed {seed}: {e}"));
            assert_eq!(person_problem(&text), None, "{what}, seed {seed}: {text}");
        }
    }
}

#[test]
fn schemas_that_cannot_be_compiled_are_refused_with_their_problem() {
    let (_, vocabulary) = mixtral();
    let cases = [
        (r#"{"type": "nonsense"}"#, "nonsense"),
        (r##"{"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}, "required": ["a"]}"##, "missing"),
        (r#"{"type": "string", "minLength": 5, "maxLength": 2}"#, "Unsatisfiable"),
        (r#"{"type": "integer", "minimum": 5, "maximum": 2}"#, "Unsatisfiable"),
        (r#"{"type": "object", "x-guidance": {"no_such_option": 1}}"#, "no_such_option"),
    ];
    for (schema, problem) in cases {
        let format = ResponseFormat::json_schema_text(schema).unwrap();
        match vocabulary.compile(&format) {
            Err(Error::InvalidOption { option, why, .. }) => {
                assert_eq!(option, "json_schema", "{schema}");
                assert!(why.contains(problem), "{schema}: {why:?} does not name {problem:?}");
            }
            other => panic!("{schema}: {other:?}"),
        }
    }
    match ResponseFormat::json_schema_text("{\"type\": ") {
        Err(Error::InvalidOption { option, why, .. }) => {
            assert!(option == "json_schema" && why.contains("not JSON"), "{why}")
        }
        other => panic!("text that is not JSON: {other:?}"),
    }
}

/// What one step of a constrained generation costs the CPU: the mask after each id of a reply
/// (printed; run with --nocapture to see the figures).
#[test]
fn one_mask_takes_a_fraction_of_a_decode_step() {
    let Some((tokenizer, _)) = smollm2() else { return };
    let t = Instant::now();
    let vocabulary = Vocabulary::new(tokenizer, tokenizer.vocab_size()).unwrap();
    let build = t.elapsed();
    let format = ResponseFormat::JsonSchema(person_schema());
    let t = Instant::now();
    let (ids, _) = spell(tokenizer, &vocabulary, &format, PERSON);
    let compile_and_spell = t.elapsed();
    let mut constraint = vocabulary.compile(&format).unwrap();
    let mut steps = Vec::with_capacity(ids.len());
    for &id in &ids {
        let t = Instant::now();
        constraint.advance(id).unwrap();
        steps.push(t.elapsed().as_secs_f64());
    }
    let mean = steps.iter().sum::<f64>() / steps.len() as f64;
    let max = steps.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "SmolLM2 vocabulary (49152 ids): built in {:.0} ms; {} masks, mean {:.0} µs, max {:.0} µs per step \
         (advance + next mask); compiling and spelling the reply {:.0} ms",
        build.as_secs_f64() * 1e3,
        steps.len(),
        mean * 1e6,
        max * 1e6,
        compile_and_spell.as_secs_f64() * 1e3
    );
    assert!(mean < 0.02, "a mask takes {mean} s on average");
}
