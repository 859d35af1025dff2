//! A push decoder for the chunked transfer coding (RFC 9112 §7.1). The body is discarded;
//! the decoder only finds where it ends, bounding both the data and the framing around it.

use super::parse::MAX_FIELD_SECTION;
use super::request::MAX_BODY_LEN;
use std::fmt;

/// Bound on one chunk-size line's extensions, which we ignore.
const MAX_EXTENSION_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedError {
    InvalidSize,
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
            ChunkedError::InvalidExtension => "invalid chunk extension",
            ChunkedError::MissingCrlf => "chunk not terminated by CRLF",
            ChunkedError::BodyTooLarge => "request body larger than 1 MiB",
            ChunkedError::InvalidTrailer => "invalid trailer field",
            ChunkedError::TrailerTooLarge => "trailer section larger than 16 KiB",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// chunk-size = 1*HEXDIG; `digits` seen so far.
    Size {
        digits: u8,
    },
    /// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
    Extension {
        len: usize,
    },
    SizeLf,
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// At the start of a trailer field line, or of the final CRLF.
    TrailerLineStart,
    TrailerLine,
    TrailerLf,
    FinalLf,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    total: u64,
    trailer_len: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
            total: 0,
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
    /// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
    /// last-chunk   = 1*("0") [ chunk-ext ] CRLF
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, ChunkedError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if let State::Data { remaining } = self.state {
                let take = remaining.min((input.len() - i) as u64);
                i += take as usize;
                self.state = match remaining - take {
                    0 => State::DataCr,
                    remaining => State::Data { remaining },
                };
                continue;
            }
            self.step(input[i])?;
            i += 1;
        }
        Ok(i)
    }

    fn step(&mut self, b: u8) -> Result<(), ChunkedError> {
        self.state = match self.state {
            State::Size { digits } => match (b as char).to_digit(16) {
                // 16 hex digits overflow nothing; more than 1 MiB is refused anyway.
                Some(d) if digits < 16 => {
                    self.size = self.size * 16 + u64::from(d);
                    if self.total + self.size > MAX_BODY_LEN {
                        return Err(ChunkedError::BodyTooLarge);
                    }
                    State::Size { digits: digits + 1 }
                }
                Some(_) => return Err(ChunkedError::BodyTooLarge),
                None if digits == 0 => return Err(ChunkedError::InvalidSize),
                None => match b {
                    b'\r' => State::SizeLf,
                    b';' | b' ' | b'\t' => State::Extension { len: 1 },
                    _ => return Err(ChunkedError::InvalidSize),
                },
            },
            State::Extension { len } => match b {
                b'\r' => State::SizeLf,
                _ if len >= MAX_EXTENSION_LEN => return Err(ChunkedError::InvalidExtension),
                b'\t' | 0x20..=0x7e | 0x80.. => State::Extension { len: len + 1 },
                _ => return Err(ChunkedError::InvalidExtension),
            },
            State::SizeLf => {
                expect_lf(b)?;
                self.total += self.size;
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
            State::TrailerLineStart if b == b'\r' => State::FinalLf,
            State::TrailerLineStart | State::TrailerLine => {
                self.trailer_len += 1;
                if self.trailer_len > MAX_FIELD_SECTION {
                    return Err(ChunkedError::TrailerTooLarge);
                }
                match b {
                    b'\r' => State::TrailerLf,
                    b'\t' | 0x20..=0x7e | 0x80.. => State::TrailerLine,
                    _ => return Err(ChunkedError::InvalidTrailer),
                }
            }
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

    /// Feeds `input` in pieces of `step` bytes; returns the bytes after the body.
    fn decode_in_steps(input: &[u8], step: usize) -> Result<&[u8], ChunkedError> {
        let mut decoder = ChunkedDecoder::default();
        let mut pos = 0;
        while !decoder.is_done() {
            assert!(pos < input.len(), "decoder wants more than the input has");
            let end = (pos + step).min(input.len());
            pos += decoder.feed(&input[pos..end])?;
        }
        Ok(&input[pos..])
    }

    fn decode(input: &[u8]) -> Result<&[u8], ChunkedError> {
        decode_in_steps(input, input.len())
    }

    #[test]
    fn finds_the_end_of_a_chunked_body_however_it_arrives() {
        let body = b"5\r\nhello\r\n1a;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nGET /";
        for step in [1, 2, 3, 7, body.len()] {
            assert_eq!(
                decode_in_steps(body, step),
                Ok(&b"GET /"[..]),
                "step {step}"
            );
        }
    }

    #[test]
    fn accepts_trailers_and_extensions() {
        assert_eq!(
            decode(b"0;ext\r\nX-Trailer: 1\r\nY: 2\r\n\r\nrest"),
            Ok(&b"rest"[..])
        );
        assert_eq!(decode(b"A \r\n0123456789\r\n000\r\n\r\n"), Ok(&b""[..]));
    }

    #[test]
    fn refuses_malformed_framing() {
        assert_eq!(decode(b"\r\n"), Err(ChunkedError::InvalidSize));
        assert_eq!(decode(b"x\r\n"), Err(ChunkedError::InvalidSize));
        assert_eq!(decode(b"-1\r\n"), Err(ChunkedError::InvalidSize));
        assert_eq!(
            decode(b"5\nhello\r\n0\r\n\r\n"),
            Err(ChunkedError::InvalidSize)
        );
        assert_eq!(
            decode(b"5\r\nhello0\r\n\r\n"),
            Err(ChunkedError::MissingCrlf)
        );
        assert_eq!(
            decode(b"5\r\nhello\n0\r\n\r\n"),
            Err(ChunkedError::MissingCrlf)
        );
        assert_eq!(decode(b"5\r\x00"), Err(ChunkedError::MissingCrlf));
        assert_eq!(decode(b"5;a\x00\r\n"), Err(ChunkedError::InvalidExtension));
        assert_eq!(
            decode(b"0\r\nX: \x01\r\n\r\n"),
            Err(ChunkedError::InvalidTrailer)
        );
        assert_eq!(decode(b"0\r\n\rX"), Err(ChunkedError::MissingCrlf));
        let long_ext = format!("1;{}\r\n", "e".repeat(MAX_EXTENSION_LEN + 1));
        assert_eq!(
            decode(long_ext.as_bytes()),
            Err(ChunkedError::InvalidExtension)
        );
    }

    #[test]
    fn bounds_the_body_and_the_trailers() {
        let too_big = format!("{:x}\r\n", MAX_BODY_LEN + 1);
        assert_eq!(decode(too_big.as_bytes()), Err(ChunkedError::BodyTooLarge));
        assert_eq!(
            decode(b"00000000000000001\r\n"),
            Err(ChunkedError::BodyTooLarge)
        );
        assert_eq!(
            decode(b"ffffffffffffffffffff\r\n"),
            Err(ChunkedError::BodyTooLarge)
        );
        // Many small chunks add up.
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "a".repeat(64 * 1024));
        let many = chunk.repeat(17);
        assert_eq!(
            decode_in_steps(many.as_bytes(), 4096),
            Err(ChunkedError::BodyTooLarge)
        );
        let trailer = format!("0\r\nX: {}\r\n\r\n", "v".repeat(MAX_FIELD_SECTION));
        assert_eq!(
            decode(trailer.as_bytes()),
            Err(ChunkedError::TrailerTooLarge)
        );
        assert_eq!(ChunkedError::BodyTooLarge.status(), 413);
    }

    #[test]
    fn survives_random_input_and_never_consumes_past_its_end() {
        let mut rng = fastrand::Rng::with_seed(0xc4u64);
        let alphabet = b"0123456789abcdefABCDEF;= \t\r\nxX:";
        for _ in 0..20_000 {
            let input: Vec<u8> = (0..rng.usize(..64))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let mut decoder = ChunkedDecoder::default();
            if let Ok(used) = decoder.feed(&input) {
                assert!(used <= input.len());
                assert!(decoder.is_done() || used == input.len());
            }
        }
    }
}
