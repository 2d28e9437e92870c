//! Reading one successful response: SSE chunks decoded as they arrive, or a whole JSON body.

use futures::stream::BoxStream;
use futures::StreamExt;

use crate::provider::sse::{SseDecoder, SseEvent};
use crate::provider::{ApiError, Endpoint, StreamDecoder, StreamEvent};

/// Protocol events from one response body, whether streamed or not, so the request loop
/// handles both the same way.
pub(super) enum ResponseReader {
    Stream {
        body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
        sse: SseDecoder,
        decoder: Box<dyn StreamDecoder>,
        raw: Vec<SseEvent>,
    },
    Whole {
        response: Option<reqwest::Response>,
        endpoint: Endpoint,
        model: Option<String>,
    },
}

impl ResponseReader {
    pub(super) fn new(response: reqwest::Response, endpoint: &Endpoint, streaming: bool) -> Self {
        if streaming {
            Self::Stream {
                body: response.bytes_stream().boxed(),
                sse: SseDecoder::new(),
                decoder: endpoint.decoder(),
                raw: Vec::new(),
            }
        } else {
            Self::Whole {
                response: Some(response),
                endpoint: endpoint.clone(),
                model: None,
            }
        }
    }

    /// Read what is available next into `out`. `Ok(false)` once the response is complete;
    /// a body that ends before the protocol's end marker is a truncated stream.
    pub(super) async fn next(&mut self, out: &mut Vec<StreamEvent>) -> Result<bool, ApiError> {
        match self {
            Self::Stream {
                body,
                sse,
                decoder,
                raw,
            } => {
                let Some(chunk) = body.next().await else {
                    return if decoder.is_done() {
                        Ok(false)
                    } else {
                        Err(ApiError::truncated())
                    };
                };
                let chunk = chunk.map_err(|e| ApiError::from_transport(&e))?;
                sse.feed(&chunk, raw);
                for event in raw.drain(..) {
                    decoder.on_event(&event, out);
                }
                Ok(!decoder.is_done())
            }
            Self::Whole {
                response,
                endpoint,
                model,
            } => {
                let Some(response) = response.take() else {
                    return Ok(false);
                };
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| ApiError::from_transport(&e))?;
                let completion = endpoint.parse_completion(&body)?;
                *model = completion.model;
                if !completion.content.is_empty() {
                    out.push(StreamEvent::Delta(completion.content));
                }
                out.push(StreamEvent::Usage(completion.usage));
                if let Some(reason) = completion.finish_reason {
                    out.push(StreamEvent::Finish(reason));
                }
                out.push(StreamEvent::Done);
                Ok(false)
            }
        }
    }

    pub(super) fn model(&self) -> Option<String> {
        match self {
            Self::Stream { decoder, .. } => decoder.model().map(str::to_owned),
            Self::Whole { model, .. } => model.clone(),
        }
    }
}
