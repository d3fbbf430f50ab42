//! Shared RFC 9110 lexical pieces: tokens, quoted strings and `type/subtype; name=value`.

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Whether `s` can be written as a bare token (otherwise it needs a quoted string).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_tchar)
}

/// Writes `value` as a token when it is one, else as a quoted string with `"` and `\` escaped.
pub(crate) fn quote_if_needed(value: &str) -> String {
    if is_token(value) {
        value.to_string()
    } else {
        quote(value)
    }
}

/// Writes `value` as a quoted string.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            // A header value cannot hold line breaks.
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A character cursor over a header value. `pos` only ever moves by whole characters, so
/// slicing at it cannot panic.
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Skips optional whitespace (RFC 9110 `OWS`: spaces and tabs).
    pub(crate) fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !f(c)).unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).unwrap_or("")
    }

    /// Reads a quoted string (the cursor is on the opening `"`), undoing `\` escapes.
    fn quoted_string(&mut self) -> Result<String, String> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err("unterminated quoted string (missing closing '\"')".into()),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    None => return Err("unterminated quoted string (ends in a '\\' escape)".into()),
                    Some(c) => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }
}

/// One parsed `type/subtype *( OWS ";" OWS [ name "=" value ] )`, lowercased type, subtype and
/// parameter names, parameter values unquoted.
#[derive(Debug)]
pub(crate) struct RawMedia {
    pub(crate) type_: String,
    pub(crate) subtype: String,
    pub(crate) params: Vec<(String, String)>,
}

/// Parses one media type or media range at the cursor. In a list (`in_list`), stops before a
/// `,` that is not inside a quoted string; otherwise the whole input must be consumed.
///
/// Whitespace around `;` and `=` is tolerated, as are empty parameters (`;;`). An unquoted
/// value may hold any visible character except `;`, `"` and (in a list) `,`, because real
/// clients send e.g. `type=application/dicom` unquoted even though `/` is not a token
/// character.
pub(crate) fn parse_media(cur: &mut Cursor<'_>, in_list: bool) -> Result<RawMedia, String> {
    cur.skip_ows();
    let type_ = cur.take_while(is_tchar);
    if type_.is_empty() {
        return Err(match cur.peek() {
            None => "empty media type".into(),
            Some(c) => format!("expected a media type such as \"application/dicom\", found {c:?}"),
        });
    }
    if cur.peek() != Some('/') {
        return Err(format!(
            "\"{type_}\" has no subtype; expected \"type/subtype\""
        ));
    }
    cur.bump();
    let subtype = cur.take_while(is_tchar);
    if subtype.is_empty() {
        return Err(format!("\"{type_}/\" has no subtype"));
    }
    let mut params = Vec::new();
    loop {
        cur.skip_ows();
        match cur.peek() {
            None => break,
            Some(',') if in_list => break,
            Some(';') => {
                cur.bump();
            }
            Some(c) => {
                return Err(format!(
                    "unexpected {c:?}; parameters must be introduced by ';', and values \
                     holding spaces or separators must be quoted"
                ))
            }
        }
        cur.skip_ows();
        match cur.peek() {
            None | Some(';') => continue,
            Some(',') if in_list => continue,
            _ => {}
        }
        let name = cur.take_while(is_tchar);
        if name.is_empty() {
            return Err(format!(
                "expected a parameter name after ';', found {:?}",
                cur.peek().unwrap_or(' ')
            ));
        }
        cur.skip_ows();
        if cur.peek() != Some('=') {
            return Err(format!("parameter \"{name}\" has no '=' and value"));
        }
        cur.bump();
        cur.skip_ows();
        let value = if cur.peek() == Some('"') {
            cur.quoted_string()
                .map_err(|e| format!("parameter \"{name}\": {e}"))?
        } else {
            let v = cur.take_while(|c| {
                !(c.is_whitespace()
                    || c.is_control()
                    || c == ';'
                    || c == '"'
                    || (in_list && c == ','))
            });
            if v.is_empty() {
                return Err(format!("parameter \"{name}\" has an empty value"));
            }
            v.to_string()
        };
        params.push((name.to_ascii_lowercase(), value));
    }
    Ok(RawMedia {
        type_: type_.to_ascii_lowercase(),
        subtype: subtype.to_ascii_lowercase(),
        params,
    })
}

/// First value of parameter `name` (ASCII case-insensitive name match).
pub(crate) fn find_param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
