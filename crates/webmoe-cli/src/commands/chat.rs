//! `webmoe chat`: a conversation on stdin/stdout, prompts built with the model's chat template.

use crate::args::ChatArgs;
use crate::interrupt::Interrupt;
use crate::load::{load, CliResult};
use std::io::{BufRead, Write};
use webmoe::constraint::Vocabulary;
use webmoe::generate::{GenerateOptions, Generation};
use webmoe::tokenizer::ChatMessage;

pub fn run(a: &ChatArgs) -> CliResult<()> {
    let format = super::response_format(&a.format)?;
    let loaded = load(&a.model)?;
    let (mut engine, tokenizer) = (loaded.engine, loaded.tokenizer);
    engine.set_sampling(&super::sampling(&a.sampling))?;
    if tokenizer.chat_template().is_none() {
        return Err("this model has no chat template (tokenizer.chat_template); use `webmoe run` with a prompt instead".into());
    }
    // The vocabulary's token trie is built once; each reply compiles the format afresh.
    let constrained = match format {
        Some(format) => {
            let vocabulary = Vocabulary::new(&tokenizer, engine.model.config.vocab_size)?;
            vocabulary.compile(&format)?;
            Some((vocabulary, format))
        }
        None => None,
    };
    let mut messages: Vec<ChatMessage> = a.system.iter().map(|s| ChatMessage::new("system", s.clone())).collect();
    let stdin = std::io::stdin();
    let interrupt = Interrupt::install()?;
    let mut out = std::io::stdout();
    eprintln!("chat with {} — an empty line or end of input quits", engine.model.config.name.as_deref().unwrap_or("the model"));
    loop {
        write!(out, "> ")?;
        out.flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok(());
        }
        messages.push(ChatMessage::new("user", line.trim_end().to_string()));
        let prompt = tokenizer.encode_chat(&messages, true)?;
        let constraint = match &constrained {
            Some((vocabulary, format)) => Some(vocabulary.compile(format)?),
            None => None,
        };
        let options = GenerateOptions { max_tokens: a.n_predict, constraint, ..Default::default() };
        let mut generation = pollster::block_on(Generation::start(&mut engine, &tokenizer, &prompt, options))?;
        let mut reply = String::new();
        let mut shown_channel: Option<String> = None;
        // Ctrl-C stops the reply before its next token; the conversation goes on.
        interrupt.generating();
        while let Some(chunk) = pollster::block_on(generation.next_chunk(&mut engine))? {
            // A harmony reply (gpt-oss) names its channels: the chain of thought is shown as such,
            // and only the answer joins the conversation, as the format asks.
            if chunk.channel != shown_channel && !chunk.text.is_empty() {
                if let Some(channel) = &chunk.channel {
                    write!(out, "{}[{channel}] ", if shown_channel.is_some() { "\n" } else { "" })?;
                }
                shown_channel = chunk.channel.clone();
            }
            write!(out, "{}", chunk.text)?;
            out.flush()?;
            if chunk.channel.as_deref().is_none_or(|c| c == "final") {
                reply.push_str(&chunk.text);
            }
            if interrupt.requested() {
                write!(out, " [interrupted]")?;
                break;
            }
        }
        interrupt.idle();
        writeln!(out)?;
        let s = generation.stats();
        // The conversation so far is already in the KV cache: only the new turn is run.
        eprintln!(
            "[{} prompt tokens, {} of them reused from the cache; {} tokens, {:.1} tok/s]",
            s.prompt_tokens,
            s.cached_tokens,
            s.generated_tokens,
            s.decode_tok_s()
        );
        messages.push(ChatMessage::new("assistant", reply.trim().to_string()));
    }
}
