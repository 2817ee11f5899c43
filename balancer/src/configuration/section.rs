//! The `section!` macro: one configuration section from one definition per setting.
//!
//! A setting is written once, as
//! `[doc] [#[arg(..)]] [#[serde(..)]] key: Raw = default => field: Type = convert,`
//! and the macro derives from it:
//! - the *layer* struct (`$layer`): every setting an `Option<Raw>` that a source may leave
//!   unset, deserialised from the TOML file under `key` and, when the setting has an
//!   `#[arg(long, env)]`, parsed from its flag and environment variable (file-only settings
//!   carry `#[arg(skip)]`); the doc comment is both the file's and `--help`'s description;
//! - `layered_on`, which stacks two layers (flags and environment over the file);
//! - the validated *settings* struct (`$settings`) and `validate`, which applies `default`
//!   where no layer set the key and passes the value to `convert(key name, raw)`, so an error
//!   names the key as the file spells it; an optional `check` function then compares fields.

macro_rules! section {
    (
        $(#[$meta:meta])*
        $layer:ident => $settings:ident, $prefix:literal {
            $(
                $(#[$attr:meta])*
                $key:ident: $raw:ty = $default:expr => $field:ident: $ty:ty = $convert:path,
            )*
        }
        $(sections { $($section:ident: $section_layer:ident => $section_settings:ident,)* })?
        $(check $check:path)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $layer {
            $($(#[$attr])* pub $key: Option<$raw>,)*
            $($(#[command(flatten)] pub $section: $section_layer,)*)?
        }

        #[doc = concat!("The validated form of [`", stringify!($layer), "`].")]
        #[derive(Debug, Clone)]
        pub struct $settings {
            $(pub $field: $ty,)*
            $($(pub $section: $section_settings,)*)?
        }

        impl $layer {
            /// This layer's values where it sets them, `lower`'s elsewhere.
            pub fn layered_on(self, lower: Self) -> Self {
                Self {
                    $($key: self.$key.or(lower.$key),)*
                    $($($section: self.$section.layered_on(lower.$section),)*)?
                }
            }

            /// Fills in the defaults and validates; an error names the offending key.
            pub fn validate(self) -> Result<$settings, $crate::configuration::ConfigError> {
                let settings = $settings {
                    $($field: $convert(
                        concat!($prefix, stringify!($key)),
                        self.$key.unwrap_or($default),
                    )?,)*
                    $($($section: self.$section.validate()?,)*)?
                };
                $($check(&settings)?;)?
                Ok(settings)
            }
        }
    };
}

pub(crate) use section;
