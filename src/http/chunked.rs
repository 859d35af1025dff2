//! A push decoder for the chunked transfer coding (RFC 9112 §7.1). The body is discarded;
//! the decoder only finds where it ends, bounding both the data and the framing around it.
//!
//! It takes bytes as they come, one state per byte of framing, so its answer never depends
//! on how the body was split, and it keeps nothing but counters.

use super::parse::{MAX_FIELD_SECTION, is_field_value_byte, is_tchar};
use super::request::MAX_BODY_LEN;
use std::fmt;

/// Bound on the hex digits of one chunk size. Leading zeros are allowed and are not size
/// (`00000000000000001` is 1), so the value alone is held to MAX_BODY_LEN (413); this only
/// stops an endless run of zeros, which is malformed rather than large (400).
const MAX_SIZE_DIGITS: u8 = 32;
/// Bound on one chunk-size line's extensions, which we check and ignore.
const MAX_EXTENSION_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedError {
    InvalidSize,
    SizeTooLong,
    InvalidExtension,
    MissingCrlf,
    BodyTooLarge,
    InvalidTrailer,
    TrailerTooLarge,
}

impl ChunkedError {
    pub fn status(self) -> u16 {
        match self {
            ChunkedError::BodyTooLarge => 413,
            ChunkedError::TrailerTooLarge => 431,
            _ => 400,
        }
    }
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkedError::InvalidSize => "invalid chunk size",
            ChunkedError::SizeTooLong => "chunk size longer than 32 hex digits",
            ChunkedError::InvalidExtension => "invalid chunk extension",
            ChunkedError::MissingCrlf => "chunk not terminated by CRLF",
            ChunkedError::BodyTooLarge => "request body larger than 1 MiB",
            ChunkedError::InvalidTrailer => "invalid trailer field",
            ChunkedError::TrailerTooLarge => "trailer section larger than 16 KiB",
        })
    }
}

/// chunk     = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// chunk-ext-name = token; chunk-ext-val = token / quoted-string   (RFC 9112 §7.1.1)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// chunk-size = 1*HEXDIG; `digits` seen so far.
    Size {
        digits: u8,
    },
    /// BWS after the size or after a value: only ";" may follow.
    SpaceBeforeSemicolon,
    /// After ";" and its BWS: a name must follow.
    NameStart,
    Name,
    /// BWS after a name: "=" or ";" must follow.
    SpaceAfterName,
    /// After "=" and its BWS: a token or a quoted string must follow.
    ValueStart,
    TokenValue,
    QuotedValue,
    /// After a backslash in a quoted string.
    QuotedPair,
    /// Right after the closing quote.
    AfterQuotedValue,
    SizeLf,
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// trailer-section = *( field-line CRLF ), field-line = field-name ":" OWS field-value OWS
    /// (RFC 9112 §7.1.2, §5), held to the rules of header lines: at the start of a line,
    /// or of the final CRLF.
    TrailerLineStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
}

impl State {
    fn is_extension(self) -> bool {
        matches!(
            self,
            State::SpaceBeforeSemicolon
                | State::NameStart
                | State::Name
                | State::SpaceAfterName
                | State::ValueStart
                | State::TokenValue
                | State::QuotedValue
                | State::QuotedPair
                | State::AfterQuotedValue
        )
    }

    fn is_trailer_line(self) -> bool {
        matches!(
            self,
            State::TrailerName | State::TrailerValue | State::TrailerLf
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    total: u64,
    extension_len: usize,
    trailer_len: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
            total: 0,
            extension_len: 0,
            trailer_len: 0,
        }
    }
}

impl ChunkedDecoder {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes body bytes from `input`; returns how many belonged to the body. Bytes
    /// after the body's end are left for the next request.
    ///
    /// chunked-body = *chunk last-chunk trailer-section CRLF
    /// last-chunk   = 1*("0") [ chunk-ext ] CRLF
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, ChunkedError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if let State::Data { remaining } = self.state {
                let take = remaining.min((input.len() - i) as u64);
                super::examined(take as usize);
                i += take as usize;
                self.state = match remaining - take {
                    0 => State::DataCr,
                    remaining => State::Data { remaining },
                };
                continue;
            }
            super::examined(1);
            self.step(input[i])?;
            i += 1;
        }
        Ok(i)
    }

    fn step(&mut self, b: u8) -> Result<(), ChunkedError> {
        if self.state.is_extension() && b != b'\r' {
            self.extension_len += 1;
            if self.extension_len > MAX_EXTENSION_LEN {
                return Err(ChunkedError::InvalidExtension);
            }
        }
        if self.state.is_trailer_line() || (self.state == State::TrailerLineStart && b != b'\r') {
            self.trailer_len += 1;
            if self.trailer_len > MAX_FIELD_SECTION {
                return Err(ChunkedError::TrailerTooLarge);
            }
        }
        self.state = match self.state {
            State::Size { digits } => self.size_byte(digits, b)?,
            State::SpaceBeforeSemicolon => match b {
                b' ' | b'\t' => State::SpaceBeforeSemicolon,
                b';' => State::NameStart,
                _ => return Err(ChunkedError::InvalidExtension),
            },
            State::NameStart => match b {
                b' ' | b'\t' => State::NameStart,
                _ if is_tchar(b) => State::Name,
                _ => return Err(ChunkedError::InvalidExtension),
            },
            State::Name => match b {
                _ if is_tchar(b) => State::Name,
                b' ' | b'\t' => State::SpaceAfterName,
                b'=' => State::ValueStart,
                _ => after_extension(b)?,
            },
            State::SpaceAfterName => match b {
                b' ' | b'\t' => State::SpaceAfterName,
                b'=' => State::ValueStart,
                b';' => State::NameStart,
                _ => return Err(ChunkedError::InvalidExtension),
            },
            State::ValueStart => match b {
                b' ' | b'\t' => State::ValueStart,
                b'"' => State::QuotedValue,
                _ if is_tchar(b) => State::TokenValue,
                _ => return Err(ChunkedError::InvalidExtension),
            },
            State::TokenValue => match b {
                _ if is_tchar(b) => State::TokenValue,
                b' ' | b'\t' => State::SpaceBeforeSemicolon,
                _ => after_extension(b)?,
            },
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text   (RFC 9110 §5.6.4)
            State::QuotedValue => match b {
                b'"' => State::AfterQuotedValue,
                b'\\' => State::QuotedPair,
                b'\t' | b' ' | 0x21..=0x7e | 0x80.. => State::QuotedValue,
                _ => return Err(ChunkedError::InvalidExtension),
            },
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            State::QuotedPair => match b {
                b'\t' | b' ' | 0x21..=0x7e | 0x80.. => State::QuotedValue,
                _ => return Err(ChunkedError::InvalidExtension),
            },
            State::AfterQuotedValue => match b {
                b' ' | b'\t' => State::SpaceBeforeSemicolon,
                _ => after_extension(b)?,
            },
            State::SizeLf => {
                expect_lf(b)?;
                self.total += self.size;
                self.extension_len = 0;
                match std::mem::take(&mut self.size) {
                    0 => State::TrailerLineStart,
                    remaining => State::Data { remaining },
                }
            }
            State::Data { .. } => unreachable!("data is consumed in bulk by feed"),
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataCr => return Err(ChunkedError::MissingCrlf),
            State::DataLf => {
                expect_lf(b)?;
                State::Size { digits: 0 }
            }
            State::TrailerLineStart => match b {
                b'\r' => State::FinalLf,
                // Whitespace first is obs-fold or a blank line that is not empty.
                _ if is_tchar(b) => State::TrailerName,
                _ => return Err(ChunkedError::InvalidTrailer),
            },
            // No whitespace between name and colon (RFC 9112 §5.1).
            State::TrailerName => match b {
                _ if is_tchar(b) => State::TrailerName,
                b':' => State::TrailerValue,
                _ => return Err(ChunkedError::InvalidTrailer),
            },
            State::TrailerValue => match b {
                b'\r' => State::TrailerLf,
                _ if is_field_value_byte(b) => State::TrailerValue,
                _ => return Err(ChunkedError::InvalidTrailer),
            },
            State::TrailerLf => {
                expect_lf(b)?;
                State::TrailerLineStart
            }
            State::FinalLf => {
                expect_lf(b)?;
                State::Done
            }
            State::Done => State::Done,
        };
        Ok(())
    }

    fn size_byte(&mut self, digits: u8, b: u8) -> Result<State, ChunkedError> {
        let Some(d) = (b as char).to_digit(16) else {
            return match b {
                _ if digits == 0 => Err(ChunkedError::InvalidSize),
                b'\r' => Ok(State::SizeLf),
                b';' => Ok(State::NameStart),
                b' ' | b'\t' => Ok(State::SpaceBeforeSemicolon),
                _ => Err(ChunkedError::InvalidSize),
            };
        };
        if digits == MAX_SIZE_DIGITS {
            return Err(ChunkedError::SizeTooLong);
        }
        // Checked at every digit, so the size never exceeds 1 MiB and cannot overflow.
        self.size = self.size * 16 + u64::from(d);
        if self.total + self.size > MAX_BODY_LEN {
            return Err(ChunkedError::BodyTooLarge);
        }
        Ok(State::Size { digits: digits + 1 })
    }
}

/// The end of a name or a value: another extension, or the end of the line.
fn after_extension(b: u8) -> Result<State, ChunkedError> {
    match b {
        b';' => Ok(State::NameStart),
        b'\r' => Ok(State::SizeLf),
        _ => Err(ChunkedError::InvalidExtension),
    }
}

fn expect_lf(b: u8) -> Result<(), ChunkedError> {
    if b == b'\n' {
        Ok(())
    } else {
        Err(ChunkedError::MissingCrlf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Outcome<'a> {
        /// The body ended; `rest` is what follows it.
        Done {
            rest: &'a [u8],
        },
        Incomplete,
        Failed(ChunkedError),
    }

    /// Feeds `input` as reads ending at `cuts` would deliver it: each feed gets everything
    /// received and not yet consumed, as the connection does.
    fn decode_with_cuts(input: &[u8], cuts: impl IntoIterator<Item = usize>) -> Outcome<'_> {
        let mut decoder = ChunkedDecoder::default();
        let mut pos = 0;
        for end in cuts.into_iter().chain([input.len()]) {
            match decoder.feed(&input[pos..end.max(pos)]) {
                Ok(used) => pos += used,
                Err(e) => return Outcome::Failed(e),
            }
            if decoder.is_done() {
                return Outcome::Done {
                    rest: &input[pos..],
                };
            }
        }
        Outcome::Incomplete
    }

    /// Decodes `input` whole, and checks that it decodes the same byte by byte, in pieces
    /// of 7, and (when short) split in two at every point.
    fn decode(input: &[u8]) -> Outcome<'_> {
        let whole = decode_with_cuts(input, []);
        let len = input.len();
        assert_eq!(decode_with_cuts(input, 1..len), whole, "byte by byte");
        assert_eq!(decode_with_cuts(input, (7..len).step_by(7)), whole, "by 7");
        if len <= 512 {
            for cut in 1..len {
                assert_eq!(decode_with_cuts(input, [cut]), whole, "cut at {cut}");
            }
        }
        whole
    }

    fn rest(rest: &[u8]) -> Outcome<'_> {
        Outcome::Done { rest }
    }

    #[test]
    fn finds_the_end_of_a_chunked_body_however_it_arrives() {
        let body = b"5\r\nhello\r\n1a;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nGET /";
        assert_eq!(decode(body), rest(b"GET /"));
        assert_eq!(decode(&body[..body.len() - 6]), Outcome::Incomplete);
    }

    #[test]
    fn accepts_extensions_by_the_grammar() {
        for input in [
            &b"0;ext\r\n\r\n"[..],
            b"5;a=b\r\nhello\r\n0\r\n\r\n",
            b"5 ;a\r\nhello\r\n0\r\n\r\n",
            b"5\t;\ta\t=\tb\t;\tc\r\nhello\r\n0\r\n\r\n",
            b"5  ;  a  =  b  ;  c  ;d\r\nhello\r\n0\r\n\r\n",
            b"5;a ;b=\"c\"  ;d\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"\"\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"x; \\\"y\\\\ =\t\xff\" ;b\r\nhello\r\n0\r\n\r\n",
            b"5;a;b=c;!#$%&'*+-.^_`|~=0\r\nhello\r\n0;last\r\n\r\n",
        ] {
            assert_eq!(
                decode(input),
                rest(b""),
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn refuses_extensions_outside_the_grammar() {
        for input in [
            &b"5 junk\r\n"[..],
            b"5\tfoo=bar\r\n",
            b"5;a=\"unterminated\r\nhello\r\n0\r\n\r\n",
            b"5;=\r\n",
            b"5;\r\n",
            b"5;;a\r\n",
            b"5 \r\n",
            b"5;a \r\n",
            b"5;a=\r\n",
            b"5;a=b \r\n",
            b"5;a=b c\r\n",
            b"5;a b\r\n",
            b"5;a=\"x\"y\r\n",
            b"5;a=\"x\" \r\n",
            b"5;a=\"\x01\"\r\n",
            b"5;a=\"\\\x01\"\r\n",
            b"5;a=b\"c\"\r\n",
            b"5;a\x00\r\n",
            b"5;a=(b)\r\n",
            b"5;a=@\r\n",
            b"5;a=;b\r\n",
        ] {
            assert_eq!(
                decode(input),
                Outcome::Failed(ChunkedError::InvalidExtension),
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
        let long_ext = format!("1;{}\r\n", "e".repeat(MAX_EXTENSION_LEN));
        assert_eq!(decode(long_ext.as_bytes()), Outcome::Incomplete);
        let too_long_ext = format!("1;{}\r\n", "e".repeat(MAX_EXTENSION_LEN + 1));
        assert_eq!(
            decode(too_long_ext.as_bytes()),
            Outcome::Failed(ChunkedError::InvalidExtension)
        );
        // The bound is per line.
        let ext = format!(";{}", "e".repeat(MAX_EXTENSION_LEN - 1));
        let two = format!("1{ext}\r\na\r\n0{ext}\r\n\r\n");
        assert_eq!(decode(two.as_bytes()), rest(b""));
    }

    #[test]
    fn accepts_trailers_held_to_the_rules_of_header_lines() {
        for input in [
            &b"0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n"[..],
            b"0\r\nX:\r\n\r\n",
            b"0\r\nX: \ta b\t \r\n\r\n",
            b"0\r\nX: caf\xc3\xa9\r\n\r\n",
        ] {
            assert_eq!(
                decode(input),
                rest(b""),
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn refuses_trailer_lines_that_are_not_field_lines() {
        for input in [
            &b"0\r\nX: \x01\r\n\r\n"[..],
            b"0\r\nNoColon\r\n\r\n",
            b"0\r\nBad Name: v\r\n\r\n",
            b"0\r\nX : v\r\n\r\n",
            b"0\r\nX\t: v\r\n\r\n",
            b"0\r\n: v\r\n\r\n",
            b"0\r\nX: a\r\n folded\r\n\r\n",
            b"0\r\nX: a\r\n\tfolded\r\n\r\n",
            b"0\r\n \r\n\r\n",
            b"0\r\n\t\r\n\r\n",
            b"0\r\nX: a\nY: b\r\n\r\n",
            b"0\r\n\n",
            b"0\r\nX: a\x7f\r\n\r\n",
        ] {
            assert_eq!(
                decode(input),
                Outcome::Failed(ChunkedError::InvalidTrailer),
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
        assert_eq!(
            decode(b"0\r\nX: a\rb\r\n\r\n"),
            Outcome::Failed(ChunkedError::MissingCrlf)
        );
        assert_eq!(
            decode(b"0\r\n\rX"),
            Outcome::Failed(ChunkedError::MissingCrlf)
        );
    }

    #[test]
    fn refuses_malformed_framing() {
        use ChunkedError::*;
        for (input, error) in [
            (&b"\r\n"[..], InvalidSize),
            (b"x\r\n", InvalidSize),
            (b"-1\r\n", InvalidSize),
            (b"5x\r\n", InvalidSize),
            (b"5\nhello\r\n0\r\n\r\n", InvalidSize),
            (b"5\r\nhello0\r\n\r\n", MissingCrlf),
            (b"5\r\nhello\n0\r\n\r\n", MissingCrlf),
            (b"5\r\nhelloX\n0\r\n\r\n", MissingCrlf),
            (b"5\r\x00", MissingCrlf),
            (b"5;a\rx", MissingCrlf),
            (b"0\r\n\r\r", MissingCrlf),
        ] {
            assert_eq!(
                decode(input),
                Outcome::Failed(error),
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn leading_zeros_are_not_size() {
        assert_eq!(decode(b"00000000000000001\r\na\r\n0\r\n\r\n"), rest(b""));
        let zeros = |n: usize| "0".repeat(n);
        let longest = format!("{}1\r\na\r\n{}\r\n\r\n", zeros(31), zeros(32));
        assert_eq!(decode(longest.as_bytes()), rest(b""));
        // An endless run of zeros is malformed, not large.
        let endless = format!("{}1\r\na\r\n0\r\n\r\n", zeros(32));
        assert_eq!(
            decode(endless.as_bytes()),
            Outcome::Failed(ChunkedError::SizeTooLong)
        );
        assert_eq!(ChunkedError::SizeTooLong.status(), 400);
    }

    #[test]
    fn bounds_the_body_and_the_trailers() {
        let fail = Outcome::Failed;
        let largest = format!("{:x}\r\n", MAX_BODY_LEN);
        assert_eq!(decode(largest.as_bytes()), Outcome::Incomplete);
        let too_big = format!("{:x}\r\n", MAX_BODY_LEN + 1);
        assert_eq!(decode(too_big.as_bytes()), fail(ChunkedError::BodyTooLarge));
        assert_eq!(
            decode(b"ffffffffffffffffffff\r\n"),
            fail(ChunkedError::BodyTooLarge)
        );
        // Many small chunks add up: 16 of 64 KiB are the limit, one byte more is not.
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "a".repeat(64 * 1024));
        let at_limit = format!("{}0\r\n\r\n", chunk.repeat(16));
        assert_eq!(decode(at_limit.as_bytes()), rest(b""));
        let over = format!("{}1\r\n", chunk.repeat(16));
        assert_eq!(decode(over.as_bytes()), fail(ChunkedError::BodyTooLarge));
        // Trailer lines, each with its CRLF, are bounded like a header section.
        let filler = |size: usize| "v".repeat(size - "X: \r\nY: \r\n".len());
        let trailer = format!("0\r\nX: \r\nY: {}\r\n\r\n", filler(MAX_FIELD_SECTION));
        assert_eq!(decode(trailer.as_bytes()), rest(b""));
        let trailer = format!("0\r\nX: \r\nY: {}\r\n\r\n", filler(MAX_FIELD_SECTION + 1));
        assert_eq!(
            decode(trailer.as_bytes()),
            fail(ChunkedError::TrailerTooLarge)
        );
    }

    #[test]
    fn maps_every_error_to_a_status_and_a_message() {
        use ChunkedError::*;
        for (error, status, message) in [
            (InvalidSize, 400, "invalid chunk size"),
            (SizeTooLong, 400, "chunk size longer than 32 hex digits"),
            (InvalidExtension, 400, "invalid chunk extension"),
            (MissingCrlf, 400, "chunk not terminated by CRLF"),
            (BodyTooLarge, 413, "request body larger than 1 MiB"),
            (InvalidTrailer, 400, "invalid trailer field"),
            (TrailerTooLarge, 431, "trailer section larger than 16 KiB"),
        ] {
            assert_eq!(
                (error.status(), error.to_string().as_str()),
                (status, message)
            );
        }
        assert_eq!((MAX_SIZE_DIGITS, MAX_BODY_LEN), (32, 1 << 20));
    }

    #[test]
    fn survives_random_input_and_never_consumes_past_its_end() {
        let mut rng = fastrand::Rng::with_seed(0xc4u64);
        let alphabet = b"0123456789abcdefABCDEF;= \t\r\nxX:\"\\";
        for _ in 0..20_000 {
            let input: Vec<u8> = (0..rng.usize(..64))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let mut decoder = ChunkedDecoder::default();
            if let Ok(used) = decoder.feed(&input) {
                assert!(used <= input.len());
                assert!(decoder.is_done() || used == input.len());
            }
            let whole = decode_with_cuts(&input, []);
            let by_byte = decode_with_cuts(&input, 1..input.len());
            assert_eq!(whole, by_byte, "{:?}", input.escape_ascii().to_string());
        }
    }
}
