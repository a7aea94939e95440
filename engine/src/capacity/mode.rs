//! Billing settings of a table and its GSIs ([`CapacityMode`],
//! [`ProvisionedThroughput`], [`OnDemandThroughput`]) and their validation, with
//! DynamoDB's messages.

/// Most capacity units (per second) a table, index or on-demand maximum may be given.
/// DynamoDB's default account quota is 40,000 per table; Strata has no account, so
/// the bound only refuses absurd figures.
pub const MAX_CAPACITY_UNITS: u64 = 1_000_000_000;

/// How a table's throughput is paid for and limited (DynamoDB's `BillingMode`).
///
/// ```
/// use strata_engine::{CapacityMode, TableSpec};
/// use strata_item::{KeySchema, KeyType};
///
/// let spec = TableSpec::new("tbl", KeySchema::simple("pk", KeyType::S))
///     .capacity(CapacityMode::provisioned(100, 20));
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CapacityMode {
    /// Pay per request (DynamoDB's `PAY_PER_REQUEST`): served up to double the previous
    /// peak (see `CapacityOptions::on_demand`), and up to the table's optional
    /// [`OnDemandThroughput`] maximum.
    #[default]
    OnDemand,
    /// Provisioned read and write capacity units per second (DynamoDB's
    /// `PROVISIONED`), with up to 300 seconds of unused capacity saved for bursts.
    Provisioned {
        /// Read capacity units per second.
        read_capacity_units: u64,
        /// Write capacity units per second.
        write_capacity_units: u64,
    },
}

impl CapacityMode {
    /// `Provisioned` with these units per second.
    pub fn provisioned(read_capacity_units: u64, write_capacity_units: u64) -> CapacityMode {
        CapacityMode::Provisioned {
            read_capacity_units,
            write_capacity_units,
        }
    }

    /// DynamoDB's name: `PAY_PER_REQUEST` or `PROVISIONED`.
    pub fn billing_mode_name(&self) -> &'static str {
        match self {
            CapacityMode::OnDemand => "PAY_PER_REQUEST",
            CapacityMode::Provisioned { .. } => "PROVISIONED",
        }
    }
}

/// A global secondary index's own provisioned capacity (DynamoDB's
/// `ProvisionedThroughput` of an index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProvisionedThroughput {
    /// Read capacity units per second.
    pub read_capacity_units: u64,
    /// Write capacity units per second.
    pub write_capacity_units: u64,
}

impl ProvisionedThroughput {
    /// These units per second.
    pub fn new(read_capacity_units: u64, write_capacity_units: u64) -> ProvisionedThroughput {
        ProvisionedThroughput {
            read_capacity_units,
            write_capacity_units,
        }
    }
}

/// The optional per-table maximum of an on-demand table (DynamoDB's
/// `OnDemandThroughput`); `None` is no maximum (DynamoDB's `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OnDemandThroughput {
    /// Most read request units per second.
    pub max_read_request_units: Option<u64>,
    /// Most write request units per second.
    pub max_write_request_units: Option<u64>,
}

impl OnDemandThroughput {
    /// No maximum.
    pub fn unlimited() -> OnDemandThroughput {
        OnDemandThroughput::default()
    }

    /// At most these request units per second.
    pub fn max(read: u64, write: u64) -> OnDemandThroughput {
        OnDemandThroughput {
            max_read_request_units: Some(read),
            max_write_request_units: Some(write),
        }
    }

    /// Whether no maximum is set.
    pub fn is_unlimited(&self) -> bool {
        self.max_read_request_units.is_none() && self.max_write_request_units.is_none()
    }
}

/// Checks one capacity figure: DynamoDB's "Member must have value greater than or
/// equal to 1", and [`MAX_CAPACITY_UNITS`].
fn check_units(field: &str, value: u64) -> Result<(), String> {
    if value == 0 {
        return Err(format!(
            "1 validation error detected: Value '0' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ));
    }
    if value > MAX_CAPACITY_UNITS {
        return Err(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have value less than or equal to {MAX_CAPACITY_UNITS}"
        ));
    }
    Ok(())
}

/// Checks a table's billing settings together with its GSIs' (`gsis`: each index's
/// name and provisioned throughput, if given). Returns DynamoDB's message.
pub(crate) fn check_billing<'a>(
    mode: &CapacityMode,
    on_demand: &OnDemandThroughput,
    gsis: impl Iterator<Item = (&'a str, Option<&'a ProvisionedThroughput>)>,
) -> Result<(), String> {
    match mode {
        CapacityMode::Provisioned {
            read_capacity_units,
            write_capacity_units,
        } => {
            check_units(
                "provisionedThroughput.readCapacityUnits",
                *read_capacity_units,
            )?;
            check_units(
                "provisionedThroughput.writeCapacityUnits",
                *write_capacity_units,
            )?;
            if !on_demand.is_unlimited() {
                return Err(
                    "One or more parameter values were invalid: OnDemandThroughput can only be specified when BillingMode is PAY_PER_REQUEST"
                        .to_owned(),
                );
            }
            for (name, t) in gsis {
                if let Some(t) = t {
                    check_units(
                        &format!(
                            "globalSecondaryIndexes.{name}.provisionedThroughput.readCapacityUnits"
                        ),
                        t.read_capacity_units,
                    )?;
                    check_units(
                        &format!(
                            "globalSecondaryIndexes.{name}.provisionedThroughput.writeCapacityUnits"
                        ),
                        t.write_capacity_units,
                    )?;
                }
            }
        }
        CapacityMode::OnDemand => {
            if let Some(r) = on_demand.max_read_request_units {
                check_units("onDemandThroughput.maxReadRequestUnits", r)?;
            }
            if let Some(w) = on_demand.max_write_request_units {
                check_units("onDemandThroughput.maxWriteRequestUnits", w)?;
            }
            for (name, t) in gsis {
                if t.is_some() {
                    return Err(format!(
                        "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none<'a>() -> std::iter::Empty<(&'a str, Option<&'a ProvisionedThroughput>)> {
        std::iter::empty()
    }

    #[test]
    fn bad_figures_get_dynamodb_messages() {
        let od = OnDemandThroughput::default();
        let err = check_billing(&CapacityMode::provisioned(0, 5), &od, none()).unwrap_err();
        assert!(
            err.contains("Value '0' at 'provisionedThroughput.readCapacityUnits'"),
            "{err}"
        );
        let err = check_billing(&CapacityMode::provisioned(5, u64::MAX), &od, none()).unwrap_err();
        assert!(err.contains("less than or equal to"), "{err}");
        assert!(
            check_billing(
                &CapacityMode::provisioned(1, MAX_CAPACITY_UNITS),
                &od,
                none()
            )
            .is_ok()
        );
        let err = check_billing(
            &CapacityMode::provisioned(5, 5),
            &OnDemandThroughput::max(1, 1),
            none(),
        )
        .unwrap_err();
        assert!(err.contains("PAY_PER_REQUEST"), "{err}");
        let err = check_billing(
            &CapacityMode::OnDemand,
            &OnDemandThroughput {
                max_read_request_units: Some(0),
                max_write_request_units: None,
            },
            none(),
        )
        .unwrap_err();
        assert!(err.contains("maxReadRequestUnits"), "{err}");
        let t = ProvisionedThroughput::new(1, 0);
        let err = check_billing(
            &CapacityMode::provisioned(5, 5),
            &od,
            [("idx", Some(&t))].into_iter(),
        )
        .unwrap_err();
        assert!(err.contains("globalSecondaryIndexes.idx"), "{err}");
        let t = ProvisionedThroughput::new(1, 1);
        let err = check_billing(
            &CapacityMode::OnDemand,
            &od,
            [("idx", Some(&t))].into_iter(),
        )
        .unwrap_err();
        assert!(
            err.contains("should not be specified for index: idx"),
            "{err}"
        );
    }
}
