//! Generation with the real SmolLM2-135M-Instruct model held to a format, on the test GPU: the
//! replies parse and validate, every id was allowed by the mask, and the model is free again
//! after a constrained reply.

use super::*;
use crate::engine::{Engine, EngineOptions};
use crate::generate::{FinishReason, GenerateOptions, Generation};
use crate::gguf::MemorySource;
use crate::gpu::{Gpu, GpuOptions};
use crate::model::Model;
use crate::sampler::SamplingParams;
use crate::tokenizer::ChatMessage;

fn engine() -> Option<Engine> {
    let bytes = std::fs::read(smollm2_path()?).expect("reading the SmolLM2 model");
    let model = Model::from_gguf(&Gguf::parse(&bytes).expect("the SmolLM2 header")).expect("the SmolLM2 model");
    let gpu = pollster::block_on(Gpu::new(&GpuOptions::default())).expect("a GPU");
    let options = EngineOptions { context_length: Some(320), ..Default::default() };
    Some(
        pollster::block_on(Engine::load(gpu, MemorySource::new(bytes), model, &options, &mut |_, _| {}))
            .expect("loading"),
    )
}

struct Reply {
    text: String,
    ids: Vec<u32>,
    finish: Option<FinishReason>,
}

fn reply(
    engine: &mut Engine,
    tokenizer: &Tokenizer,
    question: &str,
    constraint: Option<Constraint>,
    params: &SamplingParams,
) -> Reply {
    engine.set_sampling(params).unwrap();
    let prompt = tokenizer.encode_chat(&[ChatMessage::new("user", question)], true).unwrap();
    let options = GenerateOptions { max_tokens: 160, constraint, ..Default::default() };
    let mut generation = pollster::block_on(Generation::start(engine, tokenizer, &prompt, options)).unwrap();
    let mut text = String::new();
    while let Some(chunk) = pollster::block_on(generation.next_chunk(engine)).unwrap() {
        text.push_str(&chunk.text);
    }
    Reply { text, ids: generation.tokens().to_vec(), finish: generation.finish_reason() }
}

const PERSON: &str =
    "Describe a fictional software engineer as JSON with a name, an age, a role (admin, editor or viewer) and skills.";

#[test]
fn greedy_and_sampled_replies_validate_against_the_schema() {
    let (Some((tokenizer, vocabulary)), Some(mut engine)) = (smollm2(), engine()) else { return };
    let format = ResponseFormat::JsonSchema(person_schema());
    let free = reply(&mut engine, tokenizer, PERSON, None, &SamplingParams::greedy());
    // Sampled with every filter off, so that the draw reaches unlikely (but allowed) ids.
    let sampled =
        SamplingParams { temperature: 1.0, top_k: None, top_p: 1.0, min_p: 0.0, seed: 7, ..SamplingParams::default() };
    for (what, params) in [("greedy", SamplingParams::greedy()), ("sampled at temperature 1, seed 7", sampled)] {
        let constraint = vocabulary.compile(&format).unwrap();
        let r = reply(&mut engine, tokenizer, PERSON, Some(constraint), &params);
        eprintln!("{what}: {}", r.text);
        assert_eq!(r.finish, Some(FinishReason::Stop), "{what}: the reply ends with the value: {}", r.text);
        assert_eq!(person_problem(&r.text), None, "{what}: {}", r.text);
        assert_eq!(text_of(tokenizer, &r.ids), r.text.as_bytes(), "{what}: the ids spell the text");
        let replayed = replay(vocabulary, &format, &r.ids);
        assert!(replayed.is_complete(), "{what}: the ids make a complete value");
    }
    let again = reply(&mut engine, tokenizer, PERSON, None, &SamplingParams::greedy());
    assert_eq!(again.ids, free.ids, "after constrained replies the model generates freely again");
}

#[test]
fn json_object_gives_an_object() {
    let (Some((tokenizer, vocabulary)), Some(mut engine)) = (smollm2(), engine()) else { return };
    let format = ResponseFormat::JsonObject;
    let question = "Give the capital and the population of France as JSON.";
    let r =
        reply(&mut engine, tokenizer, question, Some(vocabulary.compile(&format).unwrap()), &SamplingParams::greedy());
    eprintln!("{}", r.text);
    assert_eq!(r.finish, Some(FinishReason::Stop), "{}", r.text);
    let value: Value = serde_json::from_str(&r.text).unwrap_or_else(|e| panic!("{e}: {}", r.text));
    assert!(value.is_object(), "{value}");
    assert!(replay(vocabulary, &format, &r.ids).is_complete());
}
