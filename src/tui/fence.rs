//! Code fences as CommonMark reads them: a run of three or more backticks or tildes opens one,
//! and only a run of the same character, at least as long, with nothing after it closes it, so
//! a fenced block shown inside a longer fence stays inside it.

/// What a line is to the fences around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceLine<'a> {
    /// It opens a fence: its info string (the language first), and where its marks end.
    Opens {
        info: &'a str,
        marks_end: usize,
    },
    Closes,
    /// Inside a fence: code, whatever it looks like.
    Inside,
    Outside,
}

/// The fence open at some point of a text: its character and the length of its run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fences {
    open: Option<(u8, usize)>,
}

impl Fences {
    /// Read the next line (with or without its line ending).
    pub fn line<'a>(&mut self, line: &'a str) -> FenceLine<'a> {
        let trimmed = line.trim_start();
        let mark = trimmed.bytes().next().filter(|b| matches!(b, b'`' | b'~'));
        let run = mark.map_or(0, |m| trimmed.bytes().take_while(|&b| b == m).count());
        let rest = &trimmed[run..];
        match (self.open, mark) {
            (Some((open, len)), Some(m)) if m == open && run >= len && rest.trim().is_empty() => {
                self.open = None;
                FenceLine::Closes
            }
            (Some(_), _) => FenceLine::Inside,
            // A backtick run with a backtick after it is inline code, not a fence.
            (None, Some(m)) if run >= 3 && !(m == b'`' && rest.contains('`')) => {
                self.open = Some((m, run));
                FenceLine::Opens {
                    info: rest.trim_end_matches(['\n', '\r']),
                    marks_end: line.len() - trimmed.len() + run,
                }
            }
            (None, _) => FenceLine::Outside,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<&'static str> {
        let mut fences = Fences::default();
        text.lines()
            .map(|l| match fences.line(l) {
                FenceLine::Opens { .. } => "opens",
                FenceLine::Closes => "closes",
                FenceLine::Inside => "inside",
                FenceLine::Outside => "outside",
            })
            .collect()
    }

    #[test]
    fn only_a_run_as_long_of_the_same_mark_closes_a_fence() {
        let text = "````markdown\n```python\nprint(1)\n```\n````\n~~~\n```\n~~~~\nafter";
        assert_eq!(
            kinds(text),
            [
                "opens", "inside", "inside", "inside", "closes", "opens", "inside", "closes",
                "outside"
            ]
        );
        assert_eq!(kinds("``` x\n``` y\n```"), ["opens", "inside", "closes"]);
        assert_eq!(kinds("```a`b\ntext"), ["outside", "outside"], "inline code");
    }
}
