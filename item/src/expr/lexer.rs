//! Tokenizer shared by every expression kind.
//!
//! Tokens carry their byte span so that syntax errors can quote the source the
//! way DynamoDB does (`near: "<previous token> <token> <next token>"`).

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A bare word: attribute name, function name or keyword (`AND`, `SET`, ...).
    Ident,
    /// `#name` placeholder.
    NameRef,
    /// `:value` placeholder.
    ValueRef,
    /// A run of decimal digits (only valid as a list index).
    Number,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    /// A character that starts no token; the parser reports it as a syntax error.
    Invalid,
    /// End of input.
    Eof,
}

/// One token: its kind and where it is in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits `src` into tokens, ending with exactly one [`Tok::Eof`].
///
/// Never fails: characters that start no token become [`Tok::Invalid`] tokens
/// (one per character) so the parser can report them in context.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 2 + 1);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match b {
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b'[' => {
                i += 1;
                Tok::LBracket
            }
            b']' => {
                i += 1;
                Tok::RBracket
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'.' => {
                i += 1;
                Tok::Dot
            }
            b'=' => {
                i += 1;
                Tok::Eq
            }
            b'+' => {
                i += 1;
                Tok::Plus
            }
            b'-' => {
                i += 1;
                Tok::Minus
            }
            b'<' => {
                i += 1;
                match bytes.get(i) {
                    Some(b'>') => {
                        i += 1;
                        Tok::Ne
                    }
                    Some(b'=') => {
                        i += 1;
                        Tok::Le
                    }
                    _ => Tok::Lt,
                }
            }
            b'>' => {
                i += 1;
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                    Tok::Ge
                } else {
                    Tok::Gt
                }
            }
            b'#' | b':' => {
                i += 1;
                let word_start = i;
                while i < bytes.len() && is_word_char(bytes[i]) {
                    i += 1;
                }
                if i == word_start {
                    Tok::Invalid
                } else if b == b'#' {
                    Tok::NameRef
                } else {
                    Tok::ValueRef
                }
            }
            b'0'..=b'9' => {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                // `4g` is neither a number nor a name: one invalid token.
                if i < bytes.len() && is_word_char(bytes[i]) {
                    while i < bytes.len() && is_word_char(bytes[i]) {
                        i += 1;
                    }
                    Tok::Invalid
                } else {
                    Tok::Number
                }
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                while i < bytes.len() && is_word_char(bytes[i]) {
                    i += 1;
                }
                Tok::Ident
            }
            _ => {
                // Skip one whole UTF-8 character so spans stay on char boundaries.
                let ch_len = src[i..].chars().next().map_or(1, char::len_utf8);
                i += ch_len;
                Tok::Invalid
            }
        };
        out.push(Token { tok, start, end: i });
    }
    out.push(Token {
        tok: Tok::Eof,
        start: bytes.len(),
        end: bytes.len(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        tokenize(src).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens() {
        use Tok::*;
        assert_eq!(
            kinds("a.b[3] <> :v AND #n>=1"),
            vec![
                Ident, Dot, Ident, LBracket, Number, RBracket, Ne, ValueRef, Ident, NameRef, Ge,
                Number, Eof
            ]
        );
        assert_eq!(
            kinds("<= < > = + - ,()"),
            vec![Le, Lt, Gt, Eq, Plus, Minus, Comma, LParen, RParen, Eof]
        );
        assert_eq!(
            kinds("# : ü 4g"),
            vec![Invalid, Invalid, Invalid, Invalid, Eof]
        );
        assert_eq!(kinds(""), vec![Eof]);
    }

    #[test]
    fn spans_are_char_boundaries() {
        let src = "aü€b";
        for t in tokenize(src) {
            assert!(src.is_char_boundary(t.start) && src.is_char_boundary(t.end));
        }
    }
}
