//! Keywords: enumerations whose values are fixed texts (RFC 8601 keywords, the values AWS
//! sends, this project's own vocabulary). One macro, `keyword_enum!`, gives each its texts
//! once: reading them (case-insensitively), writing them, `Display` and serde.
//!
//! An enumeration someone else may extend (AWS, the RFCs' registries) is *open*: a value this
//! version does not know is kept as read, so it can be reported and counted, never refused.
//! One this project owns is *closed*: anything else is an error naming the values allowed.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// A text that is none of a closed enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{got:?} is not one of {}", .expected.join(", "))]
pub struct UnknownKeyword {
    pub got: String,
    pub expected: &'static [&'static str],
}

/// Declares an enumeration and its texts.
///
/// ```text
/// keyword_enum! { /// Closed: other texts are an error.
///     pub enum Severity { Info = "info", Warning = "warning" } }
/// keyword_enum! { /// Open: other texts are kept, here as read.
///     pub enum BounceType { Permanent = "Permanent" } else Unknown(str::to_owned) }
/// ```
///
/// A variant may accept further spellings (`Utf8 = "UTF8" | "UTF-8"`); the first is the one
/// written. An open enumeration's unknown text is kept through the given function (as read,
/// or lower-cased for case-insensitive keywords).
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const TEXTS: &'static [&'static str] = &[$($text),+];

            /// The value written as `text` (any case), if there is one.
            pub fn from_text(text: &str) -> Option<Self> {
                $(if text.eq_ignore_ascii_case($text) $(|| text.eq_ignore_ascii_case($alias))* {
                    return Some(Self::$variant);
                })+
                None
            }

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::read::keyword::UnknownKeyword;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::from_text(text.trim()).ok_or_else(|| $crate::read::keyword::UnknownKeyword {
                    got: text.trim().to_owned(),
                    expected: Self::TEXTS,
                })
            }
        }

        $crate::read::keyword::keyword_enum!(@common $name);

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::read::keyword::from_json_text(deserializer, |text| {
                    Self::from_text(text).ok_or_else(|| {
                        <D::Error as ::serde::de::Error>::unknown_variant(text, Self::TEXTS)
                    })
                })?
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)?
        } else $unknown:ident($keep:path)
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept.
            $unknown(String),
        }

        impl $name {
            /// The value written as `text` (any case); an unknown text is kept.
            pub fn from_text(text: &str) -> Self {
                $(if text.eq_ignore_ascii_case($text) $(|| text.eq_ignore_ascii_case($alias))* {
                    return Self::$variant;
                })+
                Self::$unknown($keep(text))
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::$unknown(text) => text,
                }
            }

            /// Whether this version knows the value.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::$unknown(_))
            }

            /// Whether this version knows the value written as `text`, without keeping it.
            pub fn knows(text: &str) -> bool {
                $(text.eq_ignore_ascii_case($text) $(|| text.eq_ignore_ascii_case($alias))* )||+
            }
        }

        $crate::read::keyword::keyword_enum!(@common $name);

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::read::keyword::from_json_text(deserializer, Self::from_text)
            }
        }
    };
    (@common $name:ident) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

pub(crate) use keyword_enum;

/// Reads a value from its JSON string through `from_text`. Written out rather than derived so
/// that a value of the wrong type is named ("invalid type: integer `7`, expected a string")
/// instead of surfacing as serde_json's bare "expected value", and so that reading a keyword
/// allocates nothing.
pub(crate) fn from_json_text<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    from_text: impl FnOnce(&str) -> T,
) -> Result<T, D::Error> {
    struct Text<F>(F);
    impl<T, F: FnOnce(&str) -> T> Visitor<'_> for Text<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
            Ok((self.0)(text))
        }
    }
    deserializer.deserialize_str(Text(from_text))
}

#[cfg(test)]
#[allow(unreachable_pub, dead_code)] // the test enumerations are private
mod tests {
    keyword_enum! {
        /// A closed test enumeration.
        enum Colour { Red = "red", Grey = "grey" | "gray" }
    }

    keyword_enum! {
        /// An open test enumeration that keeps unknown texts lower-cased.
        enum Shape { Round = "round" } else Other(str::to_ascii_lowercase)
    }

    #[test]
    fn closed_values_read_write_and_refuse() {
        assert_eq!(Colour::from_text("RED"), Some(Colour::Red));
        assert_eq!(Colour::from_text("gray"), Some(Colour::Grey));
        assert_eq!(Colour::Grey.to_string(), "grey");
        assert_eq!(
            " blue ".parse::<Colour>().map_err(|e| e.to_string()),
            Err("\"blue\" is not one of red, grey".to_owned())
        );
        assert_eq!(
            serde_json::from_str::<Colour>("\"Gray\"").ok(),
            Some(Colour::Grey)
        );
        let error = serde_json::from_str::<Colour>("\"blue\"").map_err(|e| e.to_string());
        assert!(
            error
                .as_ref()
                .is_err_and(|e| e.starts_with("unknown variant `blue`")),
            "{error:?}"
        );
        assert_eq!(Colour::ALL, [Colour::Red, Colour::Grey]);
    }

    #[test]
    fn open_values_keep_what_they_do_not_know() {
        assert_eq!(Shape::from_text("ROUND"), Shape::Round);
        let odd = Shape::from_text("Squarish");
        assert_eq!(odd, Shape::Other("squarish".into()));
        assert!(!odd.is_known());
        assert_eq!(odd.to_string(), "squarish");
        assert_eq!(
            serde_json::to_string(&Shape::Round).ok().as_deref(),
            Some("\"round\"")
        );
        let wrong_type = serde_json::from_str::<Shape>("7").map_err(|e| e.to_string());
        assert_eq!(
            wrong_type,
            Err("invalid type: integer `7`, expected a string at line 1 column 1".into())
        );
    }
}
