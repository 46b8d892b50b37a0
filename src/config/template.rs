//! Instance ranges in unit names (`my-app@{3000..3003}.service`) and the `{i}` placeholder
//! in the health URL declared beside them: expanded here, once, so nothing downstream
//! sees a template.

/// The most instances one range may expand to: a typo (`{3000..30000}`) must not turn into
/// ten thousand expected units.
pub(crate) const MAX_INSTANCES: u64 = 1000;

/// The placeholder a `[[unit]] health` URL writes for the instance.
pub(crate) const INSTANCE_PLACEHOLDER: &str = "{i}";

/// One unit a unit-name pattern stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UnitInstance {
    /// Full unit name: `my-app@3000.service`.
    pub(crate) name: String,
    /// For an instance of a template, the instance string: `3000`.
    pub(crate) instance: Option<String>,
    /// For an instance of a template, the template: `my-app@.service`.
    pub(crate) template: Option<String>,
}

/// Why a unit-name pattern cannot be expanded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RangeError {
    /// `{` without `}`.
    #[error("\"{{\" without a closing \"}}\"")]
    Unclosed,
    /// `{…}` that is not `{FIRST..LAST}` with whole numbers.
    #[error("{{{0}}} is not a range of whole numbers; write {{FIRST..LAST}}, e.g. {{3000..3003}}")]
    NotARange(String),
    /// `{3003..3000}`.
    #[error("the range counts down; write {{{last}..{first}}}")]
    Descending {
        /// The first number as written.
        first: u64,
        /// The last number as written.
        last: u64,
    },
    /// More than [`MAX_INSTANCES`].
    #[error("the range stands for {0} instances, more than the {MAX_INSTANCES} bootproof expands")]
    TooLarge(u64),
    /// A range that is not the instance part of a template unit.
    #[error("a range must be the whole instance of a template unit, right after \"@\": name@{{3000..3003}}.service")]
    NotAnInstance,
    /// Two ranges in one name.
    #[error("only one range per unit name")]
    TwoRanges,
}

/// Where in the pattern a [`RangeError`] is: the byte offset of the `{` it concerns.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RangeErrorAt {
    /// Byte offset into the pattern.
    pub(crate) offset: usize,
    /// What is wrong.
    pub(crate) error: RangeError,
}

/// Expands a unit-name pattern: `my-app@{3000..3003}.service` to four instances of
/// `my-app@.service`; a name without a range to itself. A name without a unit type gets
/// `.service`, as systemctl does.
pub(crate) fn expand_unit_name(pattern: &str) -> Result<Vec<UnitInstance>, RangeErrorAt> {
    let Some(open) = pattern.find('{') else {
        let name = with_service_suffix(pattern);
        let (template, instance) = split_instance(&name);
        return Ok(vec![UnitInstance { name, instance, template }]);
    };
    let at = |error| RangeErrorAt { offset: open, error };
    let close = pattern[open..].find('}').map(|i| open + i).ok_or_else(|| at(RangeError::Unclosed))?;
    let (first, last) = parse_range(&pattern[open + 1..close]).map_err(at)?;
    if let Some(second) = pattern[close + 1..].find('{') {
        return Err(RangeErrorAt { offset: close + 1 + second, error: RangeError::TwoRanges });
    }
    let prefix = &pattern[..open];
    let suffix = with_service_suffix(&pattern[close + 1..]);
    // The range must be the instance: directly after the `@`, up to the unit type.
    if !prefix.ends_with('@') || prefix.len() < 2 || !suffix.starts_with('.') {
        return Err(at(RangeError::NotAnInstance));
    }
    let template = format!("{prefix}{suffix}");
    Ok((first..=last)
        .map(|n| UnitInstance {
            name: format!("{prefix}{n}{suffix}"),
            instance: Some(n.to_string()),
            template: Some(template.clone()),
        })
        .collect())
}

/// `A..B` → `(A, B)`, checked for direction and size.
fn parse_range(inside: &str) -> Result<(u64, u64), RangeError> {
    let not_a_range = || RangeError::NotARange(inside.to_owned());
    let (first, last) = inside.split_once("..").ok_or_else(not_a_range)?;
    let number = |text: &str| {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_a_range());
        }
        text.parse::<u64>().map_err(|_| not_a_range())
    };
    let (first, last) = (number(first)?, number(last)?);
    if first > last {
        return Err(RangeError::Descending { first, last });
    }
    let count = last - first + 1;
    if count > MAX_INSTANCES {
        return Err(RangeError::TooLarge(count));
    }
    Ok((first, last))
}

/// `my-app` → `my-app.service`; a name that already names its unit type stays as it is.
fn with_service_suffix(name: &str) -> String {
    const TYPES: &[&str] = &[
        ".service",
        ".socket",
        ".target",
        ".timer",
        ".path",
        ".mount",
        ".automount",
        ".swap",
        ".slice",
        ".scope",
        ".device",
    ];
    if TYPES.iter().any(|t| name.ends_with(t)) { name.to_owned() } else { format!("{name}.service") }
}

/// `my-app@3000.service` → (`my-app@.service`, `3000`); not an instance → (None, None).
fn split_instance(name: &str) -> (Option<String>, Option<String>) {
    let Some((prefix, rest)) = name.split_once('@') else { return (None, None) };
    let Some(dot) = rest.rfind('.') else { return (None, None) };
    let instance = &rest[..dot];
    if instance.is_empty() {
        return (None, None);
    }
    (Some(format!("{prefix}@{}", &rest[dot..])), Some(instance.to_owned()))
}

/// The health URL of one instance: `{i}` replaced by the instance string.
pub(crate) fn instance_url(pattern: &str, instance: &str) -> String {
    pattern.replace(INSTANCE_PLACEHOLDER, instance)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pattern: &str) -> Vec<String> {
        expand_unit_name(pattern).expect("expands").into_iter().map(|u| u.name).collect()
    }

    #[test]
    fn a_range_expands_to_instances_of_the_template() {
        let units = expand_unit_name("my-app@{3000..3003}.service").expect("expands");
        assert_eq!(
            units.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["my-app@3000.service", "my-app@3001.service", "my-app@3002.service", "my-app@3003.service"]
        );
        assert!(units.iter().all(|u| u.template.as_deref() == Some("my-app@.service")));
        assert_eq!(units[2].instance.as_deref(), Some("3002"));
    }

    #[test]
    fn a_plain_name_is_itself_and_gets_the_service_type() {
        assert_eq!(names("api.service"), ["api.service"]);
        assert_eq!(names("api"), ["api.service"]);
        assert_eq!(names("my-app@{1..1}"), ["my-app@1.service"]);
        let single = expand_unit_name("my-app@3000.service").expect("expands");
        assert_eq!(single[0].template.as_deref(), Some("my-app@.service"));
        assert_eq!(single[0].instance.as_deref(), Some("3000"));
        assert_eq!(expand_unit_name("pm2-root.service").expect("expands")[0].template, None);
    }

    #[test]
    fn bad_ranges_say_what_is_wrong_and_where() {
        let err = |p: &str| expand_unit_name(p).expect_err("rejected");
        assert_eq!(
            err("my-app@{3003..3000}.service"),
            RangeErrorAt { offset: 7, error: RangeError::Descending { first: 3003, last: 3000 } }
        );
        assert_eq!(err("my-app@{a..b}.service").error, RangeError::NotARange("a..b".into()));
        assert_eq!(err("my-app@{3000-3003}.service").error, RangeError::NotARange("3000-3003".into()));
        assert_eq!(err("my-app@{1..1001}.service").error, RangeError::TooLarge(1001));
        assert_eq!(err("my-app@{1..3.service").error, RangeError::Unclosed);
        assert_eq!(err("my-app-{1..3}.service").error, RangeError::NotAnInstance);
        assert_eq!(err("my-app@{1..3}x.service").error, RangeError::NotAnInstance);
        assert_eq!(err("my-app@{1..3}.{4..5}").error, RangeError::TwoRanges);
        assert_eq!(
            RangeError::Descending { first: 3003, last: 3000 }.to_string(),
            "the range counts down; write {3000..3003}"
        );
    }

    #[test]
    fn exactly_the_maximum_is_allowed() {
        assert_eq!(expand_unit_name("w@{1..1000}.service").expect("expands").len(), 1000);
    }

    #[test]
    fn the_instance_placeholder_is_replaced() {
        assert_eq!(instance_url("http://127.0.0.1:{i}/health", "3001"), "http://127.0.0.1:3001/health");
    }
}
