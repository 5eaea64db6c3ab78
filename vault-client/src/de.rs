//! Deserializers the request types share with the server that parses them.

use serde::{Deserialize, Deserializer};

/// An integer field that also takes an integral JSON number written with a fraction
/// (`3.0`): JSON Schema calls both integers, and so do clients whose numbers are floats
/// (Python's `json.dumps(3.0)`). Anything else is refused as serde would refuse it.
pub fn integral<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::de::{Error, Unexpected};
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
            .map(|f| f as u64)
    });
    let expected = &"a non-negative integer in range";
    let whole = whole.ok_or_else(|| match number.as_f64() {
        Some(f) => D::Error::invalid_type(Unexpected::Float(f), expected),
        None => D::Error::invalid_type(Unexpected::Other("number"), expected),
    })?;
    T::try_from(whole).map_err(|_| D::Error::invalid_value(Unexpected::Unsigned(whole), expected))
}

/// `integral` for an optional field (`null` or absent is `None`).
pub fn integral_opt<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    #[derive(Deserialize)]
    struct Wrapped<T: TryFrom<u64>>(#[serde(deserialize_with = "integral")] T);
    Option::<Wrapped<T>>::deserialize(deserializer).map(|w| w.map(|Wrapped(v)| v))
}

/// For PATCH fields where `null` clears and absence leaves alone.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
