//! The cash-register (ECR) side of ZVT: [`ZvtTerminal`] drives a payment
//! terminal (PT) through one authorization. Read this file top to bottom to
//! follow a payment:
//!
//! 1. **Registration (06 00)**, once per connection, before the first payment:
//!    password, config byte, currency. The PT answers `80 00 00`, then
//!    Completion (06 0F) with its terminal id.
//! 2. **Authorization (06 01)** with BMP 04 amount and BMP 49 currency. The PT
//!    answers `80 00 00` (or `84 xx 00`: refused, e.g. busy).
//! 3. The PT is now in charge and reports, each message answered `80 00 00`:
//!    Intermediate Status (04 FF, "insert card" ...), Status-Information
//!    (04 0F: result code, amount, trace, TID, receipt number, card brand),
//!    receipt lines (06 D1 / 06 D3).
//! 4. It ends with **Completion (06 0F)**: approved, or **Abort (06 1E)**
//!    with a result code: declined, cancelled, ...
//! 5. If `request.timeout` passes first, the driver sends **Abort (06 B0)**
//!    and listens a little longer, so a payment that completes at the last
//!    moment is still reported as approved.
//!
//! A payment whose answer never reached the node (it crashed meanwhile) is
//! asked for again with **Repeat Receipt (06 20)**: the PT repeats its last
//! stored payment's Status-Information, receipt and Completion
//! ([`PaymentTerminal::last_transaction`]).
//!
//! The transport (serial frames or TCP) is `super::link`; field parsing,
//! and the dropping of card data, is [`super::apdu`].

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::apdu::{self, Apdu, StatusInfo};
use super::link::{Link, Timing, Wire};
use super::spec::{self, command};
use crate::terminal::{Approval, AuthorizeRequest, PaymentTerminal, TerminalError};

/// Largest amount six BCD bytes hold.
pub const MAX_AMOUNT: i64 = 999_999_999_999;

/// Timeouts and settings of the driver. The defaults follow the spec; tests
/// shorten them.
#[derive(Debug, Clone)]
pub struct ZvtConfig {
    /// T3: how long to wait for the line `ACK` of a frame and for the PT's
    /// `80 00 00` to a command. Spec default 5 s.
    pub ack_timeout: Duration,
    /// Longest silence inside one serial frame before it counts as broken.
    pub inter_byte_timeout: Duration,
    /// Transmissions of one frame, and broken frames tolerated in a row
    /// before giving up. Spec: 3.
    pub max_attempts: u32,
    /// How long a cancellation (06 B0) may take, including the PT's final
    /// answer to the abandoned command.
    pub abort_timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Config byte of Registration (06 00), see [`spec::config_byte`].
    pub registration_config: u8,
}

impl Default for ZvtConfig {
    fn default() -> Self {
        Self {
            ack_timeout: Duration::from_secs(5),
            inter_byte_timeout: Duration::from_secs(1),
            max_attempts: 3,
            abort_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            registration_config: spec::config_byte::DRIVER_DEFAULT,
        }
    }
}

impl ZvtConfig {
    fn timing(&self) -> Timing {
        Timing {
            ack_timeout: self.ack_timeout,
            inter_byte_timeout: self.inter_byte_timeout,
            max_attempts: self.max_attempts.max(1),
        }
    }
}

/// A ZVT payment terminal reached over a serial line or TCP.
pub struct ZvtTerminal {
    link: Link,
    password: [u8; 3],
    config: ZvtConfig,
    registered: bool,
    terminal_id: Option<String>,
}

/// How the PT ended a command.
enum Finished {
    /// Completion (06 0F), with the last Status-Information merged in.
    Completed(StatusInfo),
    /// Abort (06 1E) with its result code.
    Aborted { code: u8 },
}

impl ZvtTerminal {
    /// Opens a serial port, 8 data bits, no parity, 2 stop bits (the spec's
    /// 9600 8N2 at `baud` 9600). `password` is three BCD bytes, usually
    /// `[0, 0, 0]`.
    pub fn serial(path: &str, baud: u32, password: [u8; 3]) -> Result<Self, TerminalError> {
        Self::serial_with_config(path, baud, password, ZvtConfig::default())
    }

    pub fn serial_with_config(
        path: &str,
        baud: u32,
        password: [u8; 3],
        config: ZvtConfig,
    ) -> Result<Self, TerminalError> {
        let spec_settings = serialport::new(path, baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::Two)
            .flow_control(serialport::FlowControl::None);
        let wire = match open_serial(spec_settings) {
            Ok(wire) => wire,
            Err(first) => {
                // Pseudo terminals and some USB adapters refuse the line
                // settings; the bytes still flow with the port's defaults.
                warn!(path, error = %first, "8N2 refused, opening with default line settings");
                open_serial(serialport::new(path, baud))
                    .map_err(|_| TerminalError::Io(format!("{path}: {first}")))?
            }
        };
        Ok(Self::with_link(
            Link::serial(wire, config.timing()),
            password,
            config,
        ))
    }

    /// Connects to a PT over TCP, usually port 20007.
    pub fn tcp(addr: &str, password: [u8; 3]) -> Result<Self, TerminalError> {
        Self::tcp_with_config(addr, password, ZvtConfig::default())
    }

    pub fn tcp_with_config(
        addr: &str,
        password: [u8; 3],
        config: ZvtConfig,
    ) -> Result<Self, TerminalError> {
        let io = |e: std::io::Error| TerminalError::Io(format!("{addr}: {e}"));
        let mut last_error = None;
        for socket_addr in addr.to_socket_addrs().map_err(io)? {
            match TcpStream::connect_timeout(&socket_addr, config.connect_timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(io)?;
                    let wire: Box<dyn Wire> = Box::new(stream);
                    return Ok(Self::with_link(
                        Link::tcp(wire, config.timing()),
                        password,
                        config,
                    ));
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(match last_error {
            Some(e) => io(e),
            None => TerminalError::Io(format!("{addr}: no address")),
        })
    }

    fn with_link(link: Link, password: [u8; 3], config: ZvtConfig) -> Self {
        Self {
            link,
            password,
            config,
            registered: false,
            terminal_id: None,
        }
    }

    /// Registration (06 00). Done automatically before the first payment;
    /// call it to check the terminal early.
    pub fn register(&mut self) -> Result<(), TerminalError> {
        let deadline = Instant::now() + self.config.ack_timeout * 3;
        self.link.discard_input();
        self.register_within(None, deadline)
    }

    fn register_within(
        &mut self,
        currency: Option<u16>,
        deadline: Instant,
    ) -> Result<(), TerminalError> {
        let registration =
            apdu::registration(self.password, self.config.registration_config, currency)
                .map_err(|e| TerminalError::Protocol(e.to_string()))?;
        self.send_command(&registration, deadline)?;
        match self.follow_command(deadline)? {
            Finished::Completed(info) => {
                debug!(terminal_id = ?info.terminal_id, "registered");
                self.terminal_id = info.terminal_id.or(self.terminal_id.take());
                self.registered = true;
                Ok(())
            }
            Finished::Aborted { code } => Err(error_for_result_code(code)),
        }
    }

    /// Sends a command and waits for the PT to take it: `80 00 00`, or
    /// `84 xx 00` with a result code saying why not.
    fn send_command(&mut self, command: &Apdu, deadline: Instant) -> Result<(), TerminalError> {
        self.link.send(command, deadline)?;
        let answer_deadline = deadline.min(Instant::now() + self.config.ack_timeout);
        let answer = self.link.recv(answer_deadline)?;
        if answer.is_positive_ack() {
            return Ok(());
        }
        if let Some(code) = answer.negative_ack_code() {
            debug!(code, text = spec::result_code_text(code), "command refused");
            // `84 00 00` carries no reason; "not now" is the useful reading.
            return Err(if code == 0 {
                TerminalError::Busy
            } else {
                error_for_result_code(code)
            });
        }
        Err(TerminalError::Protocol(format!(
            "expected 80 00 00 or 84 xx 00 in answer to {command:?}, got {answer:?}"
        )))
    }

    /// Answers a PT message with `80 00 00`. Not bound to the payment's
    /// deadline: acknowledging is owed even when we are about to give up.
    fn acknowledge(&mut self) -> Result<(), TerminalError> {
        let deadline = Instant::now() + self.config.ack_timeout;
        Ok(self.link.send(&apdu::positive_ack(), deadline)?)
    }

    /// Follows the PT while it executes a command, until Completion or Abort.
    fn follow_command(&mut self, deadline: Instant) -> Result<Finished, TerminalError> {
        let mut status = StatusInfo::default();
        loop {
            let message = self.link.recv(deadline)?;
            debug!(?message, "from PT");
            match message.control() {
                command::INTERMEDIATE_STATUS => {
                    if let Some(&code) = message.data().first() {
                        debug!(
                            code,
                            text = spec::intermediate_status_text(code),
                            "intermediate status"
                        );
                    }
                    self.acknowledge()?;
                }
                command::STATUS_INFORMATION => {
                    let (info, error) = StatusInfo::parse(message.data());
                    if let Some(error) = error {
                        warn!(%error, "status information only partly understood");
                    }
                    status = info;
                    self.acknowledge()?;
                }
                command::PRINT_LINE | command::PRINT_TEXT_BLOCK => {
                    // The PT prints its own receipts (see the config byte);
                    // lines it sends anyway are acknowledged and not kept,
                    // since they may quote the (masked) card number.
                    self.acknowledge()?;
                }
                command::COMPLETION => {
                    let (completion, _) = StatusInfo::parse(message.data());
                    status.terminal_id = status.terminal_id.or(completion.terminal_id);
                    status.result_code = status.result_code.or(completion.result_code);
                    if let Err(error) = self.acknowledge() {
                        warn!(%error, "could not acknowledge the completion");
                    }
                    return Ok(Finished::Completed(status));
                }
                command::ABORT_BY_PT => {
                    let code = message.data().first().copied().unwrap_or(0xFF);
                    if let Err(error) = self.acknowledge() {
                        warn!(%error, "could not acknowledge the abort");
                    }
                    return Ok(Finished::Aborted { code });
                }
                [command::POSITIVE_ACK_CLASS, _] => {
                    // The PT confirming our Abort (06 B0); its final answer follows.
                }
                [command::NEGATIVE_ACK_CLASS, code] => {
                    debug!(
                        code,
                        "the PT refused to abort; waiting for its final answer"
                    );
                }
                [0x04 | 0x06, _] => {
                    // A PT command this driver does not implement.
                    let deadline = Instant::now() + self.config.ack_timeout;
                    self.link.send(&apdu::negative_ack(0x83), deadline)?;
                }
                _ => {
                    return Err(TerminalError::Protocol(format!(
                        "unexpected {message:?} during a command"
                    )));
                }
            }
        }
    }

    /// Cancels the command in progress and listens until `deadline` for its
    /// final answer, which may still be a completion.
    fn cancel(&mut self, deadline: Instant) -> Option<Finished> {
        if let Err(error) = self.link.send(&apdu::abort_by_ecr(), deadline) {
            debug!(?error, "abort not delivered");
            return None;
        }
        match self.follow_command(deadline) {
            Ok(finished) => Some(finished),
            Err(error) => {
                debug!(%error, "no final answer after abort");
                None
            }
        }
    }

    fn approval(&self, info: StatusInfo, requested: u64) -> Result<Approval, TerminalError> {
        if let Some(code) = info.result_code.filter(|&code| code != 0) {
            return Err(error_for_result_code(code));
        }
        let booked = info.amount.unwrap_or(requested);
        if booked != requested {
            warn!(requested, booked, "the terminal booked a different amount");
        }
        let terminal_id = info
            .terminal_id
            .or_else(|| self.terminal_id.clone())
            .unwrap_or_default();
        let trace = info.trace.unwrap_or(0);
        let mut reference = format!("TID {terminal_id} trace {trace:06}");
        if let Some(receipt) = info.receipt_no {
            reference.push_str(&format!(" receipt {receipt:04}"));
        }
        Ok(Approval {
            amount: i64::try_from(booked).unwrap_or(i64::MAX),
            terminal_id,
            trace,
            receipt_no: info.receipt_no,
            auth_code: info.auth_attribute,
            card_type: info.card_name.or_else(|| {
                info.card_type
                    .and_then(spec::card_type_name)
                    .map(str::to_owned)
            }),
            reference,
        })
    }
}

impl PaymentTerminal for ZvtTerminal {
    fn authorize(&mut self, request: &AuthorizeRequest) -> Result<Approval, TerminalError> {
        let amount = u64::try_from(request.amount)
            .ok()
            .filter(|&a| (1..=MAX_AMOUNT as u64).contains(&a))
            .ok_or_else(|| {
                TerminalError::Protocol(format!(
                    "amount {} outside 1..={MAX_AMOUNT}",
                    request.amount
                ))
            })?;
        let currency = request.currency_numeric;
        let authorization = apdu::authorization(amount, currency)
            .map_err(|e| TerminalError::Protocol(format!("currency {currency}: {e}")))?;
        let deadline = Instant::now() + request.timeout;

        self.link.discard_input();
        if !self.registered {
            self.register_within(Some(currency), deadline)?;
        }
        let outcome = self
            .send_command(&authorization, deadline)
            .and_then(|()| self.follow_command(deadline));
        match outcome {
            Ok(Finished::Completed(info)) => self.approval(info, amount),
            Ok(Finished::Aborted { code }) => Err(error_for_result_code(code)),
            Err(TerminalError::Timeout) => {
                // The customer (or the PT) did not finish in time: cancel at
                // the PT, best effort.
                let abort_deadline = Instant::now() + self.config.abort_timeout;
                match self.cancel(abort_deadline) {
                    Some(Finished::Completed(info)) => self.approval(info, amount),
                    _ => Err(TerminalError::Timeout),
                }
            }
            Err(error) => Err(error),
        }
    }

    fn last_transaction(&mut self) -> Result<Option<Approval>, TerminalError> {
        // Registration and the command each get the usual answer time, plus the receipt's lines.
        let deadline = Instant::now() + self.config.ack_timeout * 4;
        self.link.discard_input();
        if !self.registered {
            self.register_within(None, deadline)?;
        }
        self.send_command(&apdu::repeat_receipt(self.password), deadline)?;
        match self.follow_command(deadline)? {
            // A repeated receipt without an amount, or of a failed payment: nothing booked.
            Finished::Completed(info) => match info.amount {
                Some(amount) if info.result_code.is_none_or(|code| code == 0) => {
                    self.approval(info, amount).map(Some)
                }
                _ => Ok(None),
            },
            // Nothing stored to repeat (or the PT will not say): no approved payment to report.
            Finished::Aborted { code } => {
                debug!(
                    code,
                    text = spec::result_code_text(code),
                    "no last transaction"
                );
                Ok(None)
            }
        }
    }

    fn abort(&mut self) -> Result<(), TerminalError> {
        let deadline = Instant::now() + self.config.abort_timeout;
        self.link.send(&apdu::abort_by_ecr(), deadline)?;
        // Whatever the PT answers (80 00 00, then usually 06 1E 6C) is
        // acknowledged; silence is fine too.
        let _ = self.follow_command(deadline);
        Ok(())
    }
}

/// Opens a serial port for exclusive use.
fn open_serial(settings: serialport::SerialPortBuilder) -> serialport::Result<Box<dyn Wire>> {
    #[cfg(unix)]
    {
        let port = settings.open_native()?;
        Ok(Box::new(super::link::ExclusiveTty(port)))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::new(settings.open()?))
    }
}

/// Maps a ZVT result code (06 1E, BMP 27, or `84 xx` to a command) to the
/// node's error: 0x6C is the customer cancelling (or the PT timing the
/// customer out), [`spec::BUSY_RESULT_CODES`] mean "not now"; everything
/// else is a decline with the spec's text.
fn error_for_result_code(code: u8) -> TerminalError {
    match code {
        spec::RESULT_ABORTED => TerminalError::Cancelled,
        0x00 => {
            TerminalError::Protocol("the terminal failed the command without a result code".into())
        }
        code if spec::BUSY_RESULT_CODES.contains(&code) => TerminalError::Busy,
        code => TerminalError::Declined {
            code,
            message: spec::result_code_text(code).to_owned(),
        },
    }
}
