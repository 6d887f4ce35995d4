//! JSON decoding helpers shared by the envelope and the object views: a string that borrows from
//! the payload when it can, and struct fields that must be JSON objects.

use std::borrow::{Borrow, Cow};
use std::fmt;

use litemap::LiteMap;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

/// A string borrowed from the payload when it has no JSON escapes, owned otherwise. serde only
/// borrows a bare `Cow<str>` field, not one inside a map or a Vec, hence this wrapper.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize)]
pub struct CowStr<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl CowStr<'_> {
    /// The text, however it was decoded.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for CowStr<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for CowStr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for CowStr<'_> {
    fn eq(&self, other: &String) -> bool {
        self.0.as_ref() == other.as_str()
    }
}

impl fmt::Display for CowStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The non-empty text of an optional string field.
pub fn non_empty<'s>(s: &'s Option<CowStr<'_>>) -> Option<&'s str> {
    s.as_ref().map(CowStr::as_str).filter(|s| !s.is_empty())
}

/// A struct that must be a JSON object. serde's derived structs also accept a JSON array and
/// fill their fields by position (`"spec": ["hook-image-puller", "hook-image-puller", false]`
/// would read as a compliant pod spec). The API server never sends one, and the mutation opens
/// objects as maps, so an array where an object belongs is a decoding error, as in Go.
pub struct MapOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData)).map(MapOnly)
    }
}

/// Decodes an optional struct field that must be a JSON object (or null).
pub fn decode_object<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(Option::<MapOnly<T>>::deserialize(d)?.map(|m| m.0))
}

/// Decodes a JSON object of labels into a [`LiteMap`], a sorted `Vec`: one allocation the size
/// of the map, where a `BTreeMap` allocates a node of eleven entries for a single label. A key
/// given twice keeps its last value, as in a `BTreeMap` and in Go's decoder.
pub fn decode_map<'de, D, K, V>(d: D) -> Result<LiteMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    struct Map<K, V>(std::marker::PhantomData<(K, V)>);
    impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Visitor<'de> for Map<K, V> {
        type Value = LiteMap<K, V>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut map = LiteMap::new();
            while let Some((k, v)) = access.next_entry()? {
                if let Some((k, v)) = map.try_append(k, v) {
                    map.insert(k, v);
                }
            }
            Ok(map)
        }
    }
    d.deserialize_map(Map(std::marker::PhantomData))
}

/// [`decode_map`] for an optional field: `null` is no map.
pub fn decode_optional_map<'de, D, K, V>(d: D) -> Result<Option<LiteMap<K, V>>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    struct Present<K, V>(LiteMap<K, V>);
    impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Deserialize<'de> for Present<K, V> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            decode_map(d).map(Present)
        }
    }
    Ok(Option::<Present<K, V>>::deserialize(d)?.map(|m| m.0))
}

/// Decodes an optional list of structs, each a JSON object.
pub fn decode_objects<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    Ok(Option::<Vec<MapOnly<T>>>::deserialize(d)?.map(|v| v.into_iter().map(|m| m.0).collect()))
}

/// The value at `path` (a key per level) in the JSON object `text`, found in one pass: every
/// other member is skipped once, instead of each level being read whole again. `Ok(None)` when
/// a key is missing; an error when a level is not an object.
pub fn find<'a>(text: &'a str, path: &[&str]) -> Result<Option<&'a RawValue>, serde_json::Error> {
    serde::de::DeserializeSeed::deserialize(
        Find(path),
        &mut serde_json::Deserializer::from_str(text),
    )
}

/// [`find`]'s seed: the rest of the path from the value it is given.
struct Find<'p>(&'p [&'p str]);

impl<'de> serde::de::DeserializeSeed<'de> for Find<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.0 {
            [] => <&RawValue>::deserialize(d).map(Some),
            _ => d.deserialize_map(self),
        }
    }
}

impl<'de> Visitor<'de> for Find<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((key, rest)) = self.0.split_first() else {
            return Ok(None);
        };
        let mut found = None;
        while let Some(k) = map.next_key::<CowStr<'de>>()? {
            if found.is_none() && k.as_str() == *key {
                found = map.next_value_seed(Find(rest))?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}
