//! Streams a build context to the engine: the caller's tar writer runs on a blocking thread
//! and writes into a bounded channel that is the HTTP request body, so the archive is never
//! held whole in memory and a slow engine slows the writer down instead of filling RAM. The
//! bytes handed to the HTTP client are counted as they go, for the progress display.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Writes the whole build context, as a tar archive, into the given writer (the `context`
/// module's `write_tar` fits here).
pub type ContextWriter = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// Size of the chunks sent to the engine; a handful are in flight at once.
const CHUNK_SIZE: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 8;

/// The chunks of the context, as bollard's `body_try_stream` takes them.
pub(crate) type ContextBody = std::pin::Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A running context writer: `body` is handed to bollard, `writer` says how the writing went,
/// `sent` counts the bytes the body has yielded so far.
pub(crate) struct ContextStream {
    pub(crate) body: ContextBody,
    pub(crate) writer: JoinHandle<io::Result<()>>,
    pub(crate) sent: Arc<AtomicU64>,
}

/// Starts `write_tar` on a blocking thread and returns the body stream it feeds.
pub(crate) fn stream_context(write_tar: ContextWriter) -> ContextStream {
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || {
        let mut channel = ChannelWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(CHUNK_SIZE),
        };
        let result = write_tar(&mut channel).and_then(|()| channel.flush());
        if let Err(error) = &result {
            // Abort the request: the engine must not build from a truncated context.
            let _ = sender.blocking_send(Err(io::Error::new(error.kind(), error.to_string())));
        }
        result
    });
    let sent = Arc::new(AtomicU64::new(0));
    ContextStream {
        body: Box::pin(receiver_stream(receiver, Arc::clone(&sent))),
        writer,
        sent,
    }
}

/// The channel as a stream, adding the length of every chunk it yields to `sent`.
fn receiver_stream(
    receiver: mpsc::Receiver<io::Result<Bytes>>,
    sent: Arc<AtomicU64>,
) -> impl Stream<Item = io::Result<Bytes>> + Send {
    futures_util::stream::unfold(receiver, move |mut receiver| {
        let sent = Arc::clone(&sent);
        async move {
            let chunk = receiver.recv().await?;
            if let Ok(bytes) = &chunk {
                sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            Some((chunk, receiver))
        }
    })
}

/// A `Write` that cuts what it gets into chunks and sends them down the channel, blocking
/// while the channel is full.
struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_SIZE),
        ));
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the Docker engine stopped reading the build context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_SIZE - self.buffer.len();
        let taken = data.len().min(room);
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() == CHUNK_SIZE {
            self.send_buffer()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn streams_everything_written_in_bounded_chunks() {
        let (sender, receiver) = mpsc::channel(2);
        let writer = tokio::task::spawn_blocking(move || {
            let mut channel = ChannelWriter {
                sender,
                buffer: Vec::new(),
            };
            for i in 0..300_000u32 {
                channel.write_all(&i.to_le_bytes())?;
            }
            channel.flush()
        });
        let sent = Arc::new(AtomicU64::new(0));
        let chunks: Vec<Bytes> = receiver_stream(receiver, Arc::clone(&sent))
            .map(|c| c.unwrap())
            .collect()
            .await;
        writer.await.unwrap().unwrap();
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_SIZE));
        let joined: Vec<u8> = chunks.concat();
        assert_eq!(joined.len(), 1_200_000);
        assert_eq!(
            sent.load(Ordering::Relaxed),
            1_200_000,
            "every byte counted"
        );
        assert_eq!(&joined[4 * 299_999..], &299_999u32.to_le_bytes());
    }

    #[tokio::test]
    async fn a_failing_writer_ends_the_body_with_its_error() {
        let ContextStream { writer, .. } = stream_context(Box::new(|w: &mut dyn Write| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk on fire"))
        }));
        let error = writer.await.unwrap().unwrap_err();
        assert_eq!(error.to_string(), "disk on fire");
    }
}
