//! A tiny tokenizer.

use std::fmt;

/// Largest token we accept.
pub const MAX_LEN: usize = 64;

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Word(String),
    Number(i64),
}

/// Splits text into tokens.
pub struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

/// Something that can be turned into tokens.
pub trait Tokenize {
    fn tokens(&self) -> Vec<Token>;
}

impl<'a> Lexer<'a> {
    /// Make a lexer over some text.
    pub fn new(text: &'a str) -> Self {
        Lexer { text, pos: 0 }
    }

    // Read the next token, if any.
    pub fn next_token(&mut self) -> Option<Token> {
        let rest = &self.text[self.pos..];
        let word = rest.split_whitespace().next()?;
        self.pos += word.len() + 1;
        Some(classify(word))
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self)
    }
}

/// Decide whether a word is a number.
fn classify(word: &str) -> Token {
    match word.parse::<i64>() {
        Ok(n) => Token::Number(n),
        Err(_) => Token::Word(word.to_string()),
    }
}

mod tests {
    fn lexes_words() {
        assert_eq!(super::classify("7"), super::Token::Number(7));
    }
}
