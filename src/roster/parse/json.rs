//! JSON rosters read with their keys in order and duplicates kept, so that a duplicated
//! key is reported instead of the last copy silently winning.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

pub struct RawRoster(pub Vec<RawEntry>);

pub enum RawEntry {
    Object(Vec<(String, serde_json::Value)>),
    /// Anything else, by what it is ("a string", ...).
    Other(&'static str),
}

const SHAPE: &str = "an array of people or {\"people\": [...]}";

/// serde_json's message without its own "at line L column C" (shown separately).
pub fn message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

impl<'de> de::Deserialize<'de> for RawRoster {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Top;
        impl<'de> Visitor<'de> for Top {
            type Value = RawRoster;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SHAPE)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawRoster, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = seq.next_element::<RawEntry>()? {
                    entries.push(e);
                }
                Ok(RawRoster(entries))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRoster, A::Error> {
                let mut people: Option<Vec<RawEntry>> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "people" {
                        if people.is_some() {
                            return Err(de::Error::custom("the key `people` appears twice"));
                        }
                        people = Some(map.next_value::<Vec<RawEntry>>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                people
                    .map(RawRoster)
                    .ok_or_else(|| de::Error::custom(format!("expected {SHAPE}")))
            }
        }
        d.deserialize_any(Top)
    }
}

impl<'de> de::Deserialize<'de> for RawEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> Visitor<'de> for Entry {
            type Value = RawEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a person object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEntry, A::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    pairs.push((key, map.next_value::<serde_json::Value>()?));
                }
                Ok(RawEntry::Object(pairs))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEntry, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawEntry::Other("an array"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawEntry, E> {
                Ok(RawEntry::Other("a string"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawEntry, E> {
                Ok(RawEntry::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawEntry, E> {
                Ok(RawEntry::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawEntry, E> {
                Ok(RawEntry::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawEntry, E> {
                Ok(RawEntry::Other("a number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawEntry, E> {
                Ok(RawEntry::Other("null"))
            }
        }
        d.deserialize_any(Entry)
    }
}
