//! A fault injector: a TCP proxy that delays every chunk a client sends before passing it on
//! to the real server behind it. It stands for a slow network or a slow identity provider,
//! so a test can act (kill a process) while an apply is still in flight.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

pub struct DelayFaultProxy {
    pub port: u16,
}

impl DelayFaultProxy {
    /// Proxy 127.0.0.1:`upstream`, delaying each chunk sent to it by `delay`.
    pub fn start(upstream: u16, delay: Duration) -> DelayFaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("delay proxy: bind");
        let port = listener.local_addr().expect("delay proxy: address").port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (Ok(client_r), Ok(server_w)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                std::thread::spawn(move || pipe(client_r, server_w, delay));
                std::thread::spawn(move || pipe(server, client, Duration::ZERO));
            }
        });
        DelayFaultProxy { port }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
