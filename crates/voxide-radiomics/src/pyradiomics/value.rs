//! Values as PyRadiomics returns them, and their text as Python prints them.

use std::fmt;

/// One value of PyRadiomics' output: feature values are floats, most diagnostics are text
/// (tuples, dicts, hashes), a few are integers (voxel counts, and GLCM `MCC` of a flat region,
/// which PyRadiomics returns as the Python int `1`).
///
/// [`fmt::Display`] writes the value as Python's `str()` does, which is what PyRadiomics'
/// CSV output contains: floats in their shortest round-trip form (`2918821481.0`, `1e-07`,
/// `nan`).
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// A Python/NumPy float.
    Float(f64),
    /// A Python int.
    Int(i64),
    /// Anything else, already in Python's text form (`(256, 256, 25)`, `'3D'` without quotes, ...).
    Text(String),
}

impl PyValue {
    /// The numeric value of floats and ints; `None` for text.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            PyValue::Float(v) => Some(*v),
            PyValue::Int(v) => Some(*v as f64),
            PyValue::Text(_) => None,
        }
    }
}

impl fmt::Display for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyValue::Float(v) => f.write_str(&py_float(*v)),
            PyValue::Int(v) => write!(f, "{v}"),
            PyValue::Text(s) => f.write_str(s),
        }
    }
}

/// Python's `repr(float)`: the shortest string that reads back to the same double, in
/// positional notation for decimal exponents in `[-4, 16)` and scientific notation
/// (`1e-07`, `1.5e+16`) otherwise; `nan`, `inf`, `-inf`.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let n = digits.len() as i32;
    let decpt = exp + 1;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if !(-4 < decpt && decpt <= 16) {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-decpt) as usize));
        out.push_str(digits);
    } else if decpt >= n {
        out.push_str(digits);
        out.push_str(&"0".repeat((decpt - n) as usize));
        out.push_str(".0");
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
    out
}

/// Python's `repr(str)`: single quotes unless the text holds a single quote and no double quote.
pub fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A Python tuple of floats: `(0.78125, 0.78125, 6.5)`.
pub fn py_float_tuple(values: &[f64]) -> String {
    py_tuple(values.iter().map(|v| py_float(*v)))
}

/// A Python tuple of integers: `(162, 84, 11, 47, 70, 7)`.
pub fn py_int_tuple<I: IntoIterator<Item = i64>>(values: I) -> String {
    py_tuple(values.into_iter().map(|v| v.to_string()))
}

fn py_tuple<I: IntoIterator<Item = String>>(items: I) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.len() == 1 {
        format!("({},)", items[0])
    } else {
        format!("({})", items.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (0.5621171627174117, "0.5621171627174117"),
            (2918821481.0, "2918821481.0"),
            (1e-7, "1e-07"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.25, "-0.25"),
            (0.0, "0.0"),
            (3057.0, "3057.0"),
            (6.499999999999998, "6.499999999999998"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
            (1e-300, "1e-300"),
        ];
        for (v, want) in cases {
            assert_eq!(py_float(v), want, "{v:e}");
        }
    }

    #[test]
    fn strings_and_tuples_print_like_python() {
        assert_eq!(py_str("sitkBSpline"), "'sitkBSpline'");
        assert_eq!(py_str("it's"), "\"it's\"");
        assert_eq!(py_int_tuple([256, 256, 25]), "(256, 256, 25)");
        assert_eq!(py_float_tuple(&[0.5, 2.0]), "(0.5, 2.0)");
        assert_eq!(py_int_tuple([1]), "(1,)");
        assert_eq!(PyValue::Int(1).to_string(), "1");
    }
}
