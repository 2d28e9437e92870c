//! How each core event changes the record: a prompt opens turns, provider events fill them, a
//! cancel closes them, a loaded session replaces them.

use std::time::Instant;

use crate::client::ClientEvent;
use std::sync::Arc;

use crate::session::{self, Piece, ProviderRef, ProviderTranscript, SaveOp, Session, CANCELLED};

use super::{Effect, Lane, LaneId, Live, Phase, RaceCore, RequestId};

impl RaceCore {
    pub(super) fn submit(&mut self, lanes: &[LaneId], prompt: &str, at: Instant) -> Vec<Effect> {
        let targets: Vec<LaneId> = lanes.iter().copied().filter(|&i| self.askable(i)).collect();
        if targets.is_empty() {
            return Vec::new();
        }
        self.round += 1;
        let round = self.round;
        let starts = targets
            .into_iter()
            .filter_map(|lane| self.ask(lane, prompt, round, at))
            .collect();
        self.saved_then(starts, at)
    }

    /// The lane exists, is usable and has no request in flight.
    fn askable(&self, lane: LaneId) -> bool {
        self.lanes
            .get(lane)
            .is_some_and(|l| l.unavailable.is_none() && !l.in_flight())
    }

    /// Open lane `lane`'s turn for `prompt` in race `round` and the request that answers it.
    fn ask(&mut self, lane: LaneId, prompt: &str, round: u64, at: Instant) -> Option<Effect> {
        let request = self.request_for(lane, prompt)?;
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        let l = &mut self.lanes[lane];
        let transcript = &mut Arc::make_mut(&mut self.session).providers[lane];
        transcript.model.clone_from(&l.info.model);
        transcript.begin(prompt, Some(l.info.settings()), round);
        l.live = Some(Live::new(request_id, transcript.turns.len() - 1, at));
        l.saved = (0, 0);
        Some(Effect::Start {
            lane,
            request_id,
            request,
        })
    }

    /// `starts` after a whole save: the prompts are on disk before any request leaves.
    fn saved_then(&mut self, mut starts: Vec<Effect>, at: Instant) -> Vec<Effect> {
        if starts.is_empty() {
            return starts;
        }
        let mut effects = vec![self.save_whole(at)];
        effects.append(&mut starts);
        effects
    }

    pub(super) fn on_provider(
        &mut self,
        lane: LaneId,
        request_id: RequestId,
        event: ClientEvent,
        at: Instant,
    ) -> Vec<Effect> {
        let Some(l) = self.lanes.get_mut(lane) else {
            return Vec::new();
        };
        if l.request_id() != Some(request_id) {
            return Vec::new();
        }
        let Some(record) = Arc::make_mut(&mut self.session)
            .providers
            .get_mut(lane)
            .and_then(ProviderTranscript::open_turn)
        else {
            return Vec::new();
        };
        match event {
            ClientEvent::RateLimit(headers) => l.server = Some(headers),
            ClientEvent::Done(outcome) => {
                let cost = self.cost_of(lane, &outcome);
                return self.finish(lane, &outcome, cost, at);
            }
            ClientEvent::Delta(text) => {
                record.answer.push_str(&text);
                if let Some(live) = &mut l.live {
                    live.first_token.get_or_insert(at);
                    live.chunks += 1;
                    live.phase = Phase::Streaming;
                }
                return self.streamed(at);
            }
            ClientEvent::Reasoning(text) => {
                record
                    .reasoning
                    .get_or_insert_with(String::new)
                    .push_str(&text);
                if let Some(live) = &mut l.live {
                    live.first_token.get_or_insert(at);
                    live.chunks += 1;
                    live.thinking_chars += text.chars().count();
                    live.thinking_chunks += 1;
                    if record.answer.is_empty() {
                        live.phase = Phase::Thinking;
                    }
                }
                return self.streamed(at);
            }
            other => {
                if matches!(other, ClientEvent::Retry { .. }) {
                    l.total_retries += 1;
                }
                if let Some(live) = &mut l.live {
                    fold_progress(live, other, at);
                }
            }
        }
        Vec::new()
    }

    /// Streamed text: written at most every autosave interval, as a journal of what is new.
    fn streamed(&mut self, at: Instant) -> Vec<Effect> {
        self.autosave.touch();
        if self.autosave.due(at) {
            self.autosave.saved(at);
            return self.append_new().into_iter().collect();
        }
        Vec::new()
    }

    /// The request ended: the record gets the outcome (text, figures, cost) and is saved whole.
    fn finish(
        &mut self,
        lane: LaneId,
        outcome: &crate::client::Outcome,
        cost: Option<f64>,
        at: Instant,
    ) -> Vec<Effect> {
        let l = &mut self.lanes[lane];
        if let Some(record) = Arc::make_mut(&mut self.session).providers[lane].open_turn() {
            record.finish(outcome, cost);
        }
        if let Some(live) = &mut l.live {
            // Retries the events did not show still count.
            l.total_retries += outcome.retries.saturating_sub(live.retries);
            live.retries = live.retries.max(outcome.retries);
            live.request_id = None;
            live.ended = Some(at);
            live.phase = match &outcome.error {
                Some(e) => Phase::Failed {
                    kind: e.kind,
                    message: e.message.clone(),
                },
                None => Phase::Done,
            };
            live.thinking_chars = outcome
                .reasoning
                .as_deref()
                .map_or(0, |r| r.chars().count());
        }
        vec![self.save_whole(at)]
    }

    /// Stop every request in flight. A cancelled turn keeps its text and how long it ran
    /// (until the cancel, its TTFT if a token came, its queue), and never goes back as history.
    pub(super) fn cancel(&mut self, at: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (lane, l) in self.lanes.iter_mut().enumerate() {
            let Some(live) = l.live.as_mut().filter(|live| live.request_id.is_some()) else {
                continue;
            };
            let request_id = live.request_id.take().unwrap_or_default();
            live.phase = Phase::Cancelled;
            live.ended = Some(at);
            let (latency, ttft, queue) = live.stopped_metrics();
            if let Some(record) = Arc::make_mut(&mut self.session).providers[lane].open_turn() {
                record.complete = true;
                let m = &mut record.metrics;
                m.error = Some(CANCELLED.to_owned());
                m.latency_ms = m.latency_ms.or(latency);
                m.ttft_ms = m.ttft_ms.or(ttft);
                m.queue_ms = m.queue_ms.or(queue);
            }
            effects.push(Effect::Abort { lane, request_id });
        }
        if !effects.is_empty() {
            effects.push(self.save_whole(at));
        }
        effects
    }

    /// Ask `lanes`' latest prompt again in place of their last answer, in the same race.
    pub(super) fn regenerate(&mut self, lanes: &[LaneId], at: Instant) -> Vec<Effect> {
        let mut starts = Vec::new();
        for &lane in lanes {
            if !self.askable(lane) {
                continue;
            }
            let session = Arc::make_mut(&mut self.session);
            let Some(last) = session.providers[lane].turns.pop() else {
                continue;
            };
            session.dropped.extend(last.id.clone());
            let round = last.round.unwrap_or(self.round);
            starts.extend(self.ask(lane, &last.prompt, round, at));
        }
        self.saved_then(starts, at)
    }

    /// Forget the latest race's turns in every lane (none may be in flight).
    pub(super) fn drop_last(&mut self, at: Instant) -> Vec<Effect> {
        if self.round == 0 || self.in_flight() {
            return Vec::new();
        }
        let round = self.round;
        let session = Arc::make_mut(&mut self.session);
        for (lane, p) in self.lanes.iter_mut().zip(&mut session.providers) {
            if p.turns.last().is_some_and(|t| t.round == Some(round)) {
                if let Some(t) = p.turns.pop() {
                    session.dropped.extend(t.id);
                }
                lane.live = None;
            }
        }
        self.round = round - 1;
        vec![self.save_whole(at)]
    }

    /// What streamed since the last save, saved now.
    pub(super) fn flush(&mut self, at: Instant) -> Option<Effect> {
        if !self.autosave.dirty() {
            return None;
        }
        self.autosave.saved(at);
        self.append_new()
    }

    /// The text each open turn gained since the last save, for the session's journal.
    fn append_new(&mut self) -> Option<Effect> {
        let mut pieces = Vec::new();
        for (lane, p) in self.lanes.iter_mut().zip(&self.session.providers) {
            let Some(turn) = p.turns.last().filter(|t| !t.complete) else {
                continue;
            };
            let Some(id) = &turn.id else { continue };
            let reasoning = turn.reasoning.as_deref().unwrap_or("");
            for (field, text, saved) in [
                (
                    session::Field::Answer,
                    turn.answer.as_str(),
                    &mut lane.saved.0,
                ),
                (session::Field::Reasoning, reasoning, &mut lane.saved.1),
            ] {
                if let Some(new) = text.get(*saved..).filter(|n| !n.is_empty()) {
                    pieces.push(Piece {
                        turn: id.clone(),
                        field,
                        at: *saved,
                        text: new.to_owned(),
                    });
                    *saved = text.len();
                }
            }
        }
        (!pieces.is_empty()).then(|| {
            Effect::Save(SaveOp::Append {
                session: self.session.id.clone(),
                pieces,
            })
        })
    }

    /// Continue `session`: configured lanes take their providers' turns, providers the config
    /// lacks get a lane that shows them (up to the most lanes), and each lane goes on with the
    /// settings its conversation was last asked with.
    pub(super) fn load(&mut self, session: Session) {
        self.lanes.truncate(self.configured);
        self.session = Arc::new(session);
        self.align();
        let session = Arc::make_mut(&mut self.session);
        for (lane, p) in self.lanes.iter_mut().zip(&mut session.providers) {
            lane.live = None;
            lane.saved = (0, 0);
            if !p.model.is_empty() {
                lane.info.model.clone_from(&p.model);
            }
            if let Some(saved) = p.turns.iter().rev().find_map(|t| t.settings.as_ref()) {
                if let Some(model) = &saved.model {
                    lane.info.model.clone_from(model);
                }
                lane.info.system.clone_from(&saved.system);
                lane.info.temperature = saved.temperature;
                lane.info.max_tokens = saved.max_tokens;
            }
            // Files from before rounds were saved: a turn's position is its round.
            for (i, t) in p.turns.iter_mut().enumerate() {
                t.round.get_or_insert(i as u64 + 1);
            }
        }
        self.round = self
            .session
            .providers
            .iter()
            .flat_map(|p| p.turns.iter().filter_map(|t| t.round))
            .max()
            .unwrap_or(0);
        self.autosave = session::Autosave::default();
    }

    /// A fresh session: every lane's conversation starts again (the old one stays on disk).
    pub(super) fn start_over(&mut self, session: Session) {
        self.lanes.truncate(self.configured);
        for lane in &mut self.lanes {
            lane.live = None;
            lane.saved = (0, 0);
        }
        self.session = Arc::new(session);
        self.round = 0;
        self.autosave = session::Autosave::default();
        self.align();
    }

    /// Make `session.providers[i]` lane `i`'s transcript: configured providers first, in lane
    /// order (empty ones are not written to the file), then the session's others, each of which
    /// gets a lane while there is room.
    pub(super) fn align(&mut self) {
        let providers = &mut Arc::make_mut(&mut self.session).providers;
        for (i, lane) in self.lanes.iter().enumerate() {
            match providers
                .iter()
                .skip(i)
                .position(|p| p.name == lane.info.name)
            {
                Some(at) => providers[i..=i + at].rotate_right(1),
                None => providers.insert(
                    i,
                    ProviderTranscript::new(&ProviderRef::new(
                        &lane.info.name,
                        &lane.info.model,
                        lane.info.protocol,
                    )),
                ),
            }
        }
        while self.lanes.len() < providers.len().min(self.max_lanes) {
            let p = &providers[self.lanes.len()];
            let info = super::ProviderInfo::named(&p.name, &p.model, p.protocol);
            let why = format!(
                "{} is in this session but not configured now: its turns are shown, it gets no new prompts.",
                p.name
            );
            self.lanes.push(Lane::new(info, Some(why)));
        }
    }
}

/// A progress event (queue, connect, retry, usage, finish reason) into the live state.
fn fold_progress(live: &mut Live, event: ClientEvent, at: Instant) {
    match event {
        ClientEvent::Queued => live.phase = Phase::Queued,
        ClientEvent::Connecting { attempt } => {
            live.sent.get_or_insert(at);
            live.phase = Phase::Connecting { attempt };
        }
        ClientEvent::Retry { decision, error } => {
            live.retries = decision.retry;
            live.phase = Phase::Retrying {
                retry: decision.retry,
                max: decision.max_retries,
                until: at + decision.wait,
                kind: error.kind,
                status: error.status,
            };
        }
        ClientEvent::Usage(usage) => live.usage = usage,
        _ => {}
    }
}
