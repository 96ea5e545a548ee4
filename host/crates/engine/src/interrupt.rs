//! The user's Ctrl-C, passed to whatever must stop cleanly when it comes: a step's container
//! is then removed rather than left running, a build or push is abandoned before it is tagged
//! or recorded. One [`Interrupter`] sets it; every clone of the [`Interrupt`] sees it.

use tokio::sync::watch;

/// Set once the user interrupted; cheap to clone into every task.
#[derive(Clone, Debug)]
pub struct Interrupt(watch::Receiver<bool>);

/// Sets the [`Interrupt`]s made with it.
#[derive(Debug)]
pub struct Interrupter(watch::Sender<bool>);

impl Interrupt {
    /// An interrupt and the one thing that sets it.
    pub fn channel() -> (Interrupter, Interrupt) {
        let (sender, receiver) = watch::channel(false);
        (Interrupter(sender), Interrupt(receiver))
    }

    /// An interrupt that never comes (for callers with no Ctrl-C to pass on).
    pub fn never() -> Interrupt {
        Interrupt::channel().1
    }

    /// Whether the user has interrupted.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once the user interrupts; never, when nothing can set it any more.
    pub async fn wait(&mut self) {
        if self.0.wait_for(|set| *set).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Interrupter {
    /// Interrupts every clone of the [`Interrupt`].
    pub fn interrupt(&self) {
        self.0.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_interrupt() {
        let (interrupter, interrupt) = Interrupt::channel();
        let mut clone = interrupt.clone();
        assert!(!interrupt.is_set());
        let waiting = tokio::spawn(async move { clone.wait().await });
        interrupter.interrupt();
        waiting.await.unwrap();
        assert!(interrupt.is_set());
    }

    #[tokio::test]
    async fn a_never_interrupt_is_not_set() {
        let mut never = Interrupt::never();
        assert!(!never.is_set());
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), never.wait());
        assert!(waited.await.is_err(), "a never interrupt came");
    }
}
