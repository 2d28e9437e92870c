//! Earlier prompts, recalled with Up/Down in the input like a shell's history.

/// Prompts sent so far, oldest first, and where recall currently stands.
#[derive(Debug, Default)]
pub struct PromptHistory {
    entries: Vec<String>,
    /// Index into `entries` while recalling; `None` when editing a fresh prompt.
    cursor: Option<usize>,
    /// What was typed before recall started, given back when stepping past the newest entry.
    draft: String,
}

impl PromptHistory {
    pub fn push(&mut self, prompt: &str) {
        if self.entries.last().map(String::as_str) != Some(prompt) {
            self.entries.push(prompt.to_owned());
        }
        self.cursor = None;
        self.draft.clear();
    }

    /// One step back; `current` is the text in the input now. `None` when there is nothing older.
    pub fn older(&mut self, current: &str) -> Option<&str> {
        let next = match self.cursor {
            None if self.entries.is_empty() => return None,
            None => {
                self.draft = current.to_owned();
                self.entries.len() - 1
            }
            Some(0) => return None,
            Some(i) => i - 1,
        };
        self.cursor = Some(next);
        self.entries.get(next).map(String::as_str)
    }

    /// One step forward; past the newest entry gives back the draft.
    pub fn newer(&mut self) -> Option<&str> {
        let i = self.cursor?;
        if i + 1 < self.entries.len() {
            self.cursor = Some(i + 1);
            self.entries.get(i + 1).map(String::as_str)
        } else {
            self.cursor = None;
            Some(self.draft.as_str())
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recalls_back_and_forth_and_restores_the_draft() {
        let mut h = PromptHistory::default();
        h.push("one");
        h.push("two");
        assert_eq!(h.older("dra"), Some("two"));
        assert_eq!(h.older("two"), Some("one"));
        assert_eq!(h.older("one"), None);
        assert_eq!(h.newer(), Some("two"));
        assert_eq!(h.newer(), Some("dra"));
        assert_eq!(h.newer(), None);
    }
}
