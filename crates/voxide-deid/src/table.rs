//! PS3.15 Table E.1-1 and how one attribute's action is chosen from it under a set of options.

use std::collections::HashMap;
use std::sync::LazyLock;

use dicom_core::Tag;

use crate::Options;

/// What happens to one attribute (PS3.15 E.1.1's action codes, compound codes resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// K: keep (sequences are still processed item by item).
    Keep,
    /// X: remove.
    Remove,
    /// Z: replace with a zero-length value.
    Zero,
    /// D: replace with a non-zero-length dummy value consistent with the VR.
    Dummy,
    /// U: replace the UID with one derived from it under the key.
    Uid,
    /// C: keep but clean (descriptors scrubbed of identifiers; dates shifted under the
    /// modified-dates option; sequences processed).
    Clean,
}

impl Action {
    /// Resolves one cell of the table. Compound codes are resolved without IOD knowledge towards
    /// the choice that stays valid for any attribute type: a dummy where one is allowed (type 1
    /// attributes need a value), an empty value over removal (type 2 attributes must be present).
    fn parse(code: &str) -> Option<Action> {
        Some(match code {
            "" => return None,
            "K" => Action::Keep,
            "X" => Action::Remove,
            "Z" | "X/Z" => Action::Zero,
            "D" | "X/D" | "Z/D" | "X/Z/D" => Action::Dummy,
            "U" | "X/Z/U*" | "X/Z/U" => Action::Uid,
            "C" => Action::Clean,
            _ => return None,
        })
    }
}

/// One row of the table: the basic action and each option's override.
#[derive(Debug, Clone)]
pub struct Row {
    /// The attribute's name in the standard.
    pub name: String,
    basic: Action,
    /// Overrides, in the table's column order (see `Options::columns`).
    options: [Option<Action>; 10],
}

struct Table {
    exact: HashMap<u32, Row>,
    /// Rows with `X` digits in their tag: (mask of the fixed digits, value, row).
    wildcard: Vec<(u32, u32, Row)>,
    private: Row,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| parse(include_str!("table_e1_1.tsv")));

fn parse(text: &str) -> Table {
    let mut exact = HashMap::new();
    let mut wildcard = Vec::new();
    let mut private = None;
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cells: Vec<&str> = line.split('\t').collect();
        assert_eq!(cells.len(), 13, "table_e1_1.tsv: bad row {line:?}");
        let basic = Action::parse(cells[2])
            .unwrap_or_else(|| panic!("table_e1_1.tsv: unknown basic action in {line:?}"));
        let mut options = [None; 10];
        for (slot, cell) in options.iter_mut().zip(&cells[3..]) {
            *slot = Action::parse(cell);
        }
        let row = Row {
            name: cells[1].to_string(),
            basic,
            options,
        };
        if cells[0] == "PRIVATE_" {
            private = Some(row);
            continue;
        }
        let (mut mask, mut value) = (0u32, 0u32);
        for c in cells[0].chars() {
            mask <<= 4;
            value <<= 4;
            if let Some(d) = c.to_digit(16) {
                mask |= 0xF;
                value |= d;
            }
        }
        if mask == u32::MAX {
            exact.insert(value, row);
        } else {
            wildcard.push((mask, value, row));
        }
    }
    Table {
        exact,
        wildcard,
        private: private.expect("table_e1_1.tsv lists private attributes"),
    }
}

/// The table's row for `tag`, if the standard lists it (private attributes excluded).
pub fn row(tag: Tag) -> Option<&'static Row> {
    let key = (u32::from(tag.group()) << 16) | u32::from(tag.element());
    let table = &*TABLE;
    table.exact.get(&key).or_else(|| {
        table
            .wildcard
            .iter()
            .find(|(mask, value, _)| key & mask == *value)
            .map(|(_, _, row)| row)
    })
}

/// The row for private attributes.
pub fn private_row() -> &'static Row {
    &TABLE.private
}

/// Number of attributes the table lists (private attributes counted once).
#[cfg(test)]
pub fn len() -> usize {
    TABLE.exact.len() + TABLE.wildcard.len() + 1
}

impl Row {
    /// The action under `options`: an enabled option's `K` wins over its `C`, which wins over
    /// the basic action (PS3.15 E.3: each option's column replaces the basic action).
    pub fn action(&self, options: &Options) -> Action {
        let enabled = options.columns();
        let mut chosen = None;
        for (on, action) in enabled.iter().zip(&self.options) {
            match (on, action) {
                (true, Some(Action::Keep)) => return Action::Keep,
                (true, Some(a)) => chosen = chosen.or(Some(*a)),
                _ => {}
            }
        }
        chosen.unwrap_or(self.basic)
    }

    /// The Basic Profile's action.
    pub fn basic(&self) -> Action {
        self.basic
    }
}

impl Options {
    /// Which option columns are enabled, in the table's column order: safe private, UIDs,
    /// device, institution, patient characteristics, full dates, modified dates, descriptors,
    /// structured content, graphics.
    fn columns(&self) -> [bool; 10] {
        [
            self.retain_safe_private,
            self.retain_uids,
            self.retain_device_identity,
            self.retain_institution_identity,
            self.retain_patient_characteristics,
            self.dates == crate::Dates::Keep,
            self.dates == crate::Dates::Shift,
            self.clean_descriptors,
            self.clean_structured_content,
            self.clean_graphics,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_dictionary_std::tags;

    #[test]
    fn table_parses_and_resolves() {
        assert_eq!(len(), 621);
        let basic = Options::default();
        assert_eq!(
            row(tags::PATIENT_NAME).unwrap().action(&basic),
            Action::Zero
        );
        assert_eq!(row(tags::PATIENT_ID).unwrap().action(&basic), Action::Dummy);
        assert_eq!(
            row(tags::STUDY_INSTANCE_UID).unwrap().action(&basic),
            Action::Uid
        );
        let dates = Options {
            dates: crate::Dates::Shift,
            ..Options::default()
        };
        assert_eq!(row(tags::STUDY_DATE).unwrap().action(&basic), Action::Zero);
        assert_eq!(row(tags::STUDY_DATE).unwrap().action(&dates), Action::Clean);
        // Overlay data of any overlay group: wildcard rows.
        assert_eq!(
            row(Tag(0x6002, 0x3000)).unwrap().action(&basic),
            Action::Remove
        );
        assert!(row(tags::ROWS).is_none());
    }
}
