"""The student workstation's SSH server: password logins as `student`, a real shell with a PTY.

It runs as the student's own unprivileged user (no root, no capability), so it can only ever
start what the student could start anyway. The password's scrypt hash comes from the class
(MTDLAB_WORKSTATION_PASSWORD_HASH, mtdlab.contract.passwords); the roster holds the password itself. Host keys are made
at every start. Usage: python3 -m workstation.sshd PORT
"""
from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import signal
import struct
import sys
import termios
from pathlib import Path

import asyncssh

from mtdlab.contract.passwords import password_ok
from mtdlab.contract import keys

USER = "student"
FAILED_LOGIN_DELAY_S = 1.0      # slows password guessing down to one try a second per connection
LOGIN_TIMEOUT_S = 60
SHELL = ["/bin/bash", "-l"]
WELCOME = (Path(__file__).parent / "welcome.txt").read_bytes().replace(b"\n", b"\r\n")


class Server(asyncssh.SSHServer):
    def __init__(self, stored_hash: str):
        self.stored_hash = stored_hash

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        if username == USER and password_ok(password, self.stored_hash):
            return True
        await asyncio.sleep(FAILED_LOGIN_DELAY_S)
        return False


def session_env() -> dict[str, str]:
    home = os.environ.get("HOME", "/home/student")
    return {"HOME": home, "USER": USER, "LOGNAME": USER, "SHELL": SHELL[0], "LANG": "C.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "TERM": "xterm"}


async def handle(process: asyncssh.SSHServerProcess) -> None:
    argv = ["/bin/bash", "-c", process.command] if process.command else SHELL
    env = session_env()
    if process.get_terminal_type():
        env["TERM"] = process.get_terminal_type()
        process.stdout.write(WELCOME)
        code = await with_pty(process, argv, env)
    else:
        code = await with_pipes(process, argv, env)
    process.exit(code)


async def with_pipes(process, argv, env) -> int:
    child = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE, env=env, cwd=env["HOME"])

    async def pump_in():
        try:
            while data := await process.stdin.read(65536):
                child.stdin.write(data)
                await child.stdin.drain()
        except (asyncssh.BreakReceived, asyncssh.SignalReceived, asyncssh.TerminalSizeChanged, ConnectionError):
            pass
        finally:
            child.stdin.close()

    async def pump_out(reader, writer):
        while data := await reader.read(65536):
            writer.write(data)

    feeder = asyncio.ensure_future(pump_in())
    await asyncio.gather(pump_out(child.stdout, process.stdout), pump_out(child.stderr, process.stderr))
    feeder.cancel()
    return await child.wait()


async def with_pty(process, argv, env) -> int:
    master, slave = pty.openpty()
    resize(slave, process.get_terminal_size())
    child = await asyncio.create_subprocess_exec(
        *argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=env["HOME"], start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))   # the pty is its controlling terminal
    os.close(slave)
    loop = asyncio.get_running_loop()
    closed = asyncio.Event()

    def readable():
        try:
            data = os.read(master, 65536)
        except OSError:      # EIO: the shell and everything it started are gone
            data = b""
        if data:
            process.stdout.write(data)
        else:
            loop.remove_reader(master)
            closed.set()

    loop.add_reader(master, readable)

    async def pump_in():
        while True:
            try:
                data = await process.stdin.read(65536)
            except asyncssh.TerminalSizeChanged as change:
                resize(master, (change.width, change.height, 0, 0))
                continue
            except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                continue
            if not data:
                break
            os.write(master, data)
        if child.returncode is None:
            os.killpg(child.pid, signal.SIGHUP)   # the client went away: hang up, as a terminal would

    feeder = asyncio.ensure_future(pump_in())
    await closed.wait()
    feeder.cancel()
    code = await child.wait()
    os.close(master)
    return code


def resize(fd: int, size) -> None:
    width, height = size[0] or 80, size[1] or 24
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


async def serve(port: int, stored_hash: str) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    await asyncssh.create_server(lambda: Server(stored_hash), "0.0.0.0", port, server_host_keys=[key],
                                 process_factory=handle, encoding=None, line_editor=False,
                                 login_timeout=LOGIN_TIMEOUT_S, allow_scp=False)
    print(f"workstation: ssh on port {port} (user {USER}, password from the roster)", file=sys.stderr)
    await asyncio.Event().wait()


def main() -> int:
    keys.env_from_secrets()   # on Swarm the password hash is a secret file
    stored_hash = os.environ.get("MTDLAB_WORKSTATION_PASSWORD_HASH", "")
    if "$" not in stored_hash:
        print("workstation: MTDLAB_WORKSTATION_PASSWORD_HASH is not set; refusing to start without a password",
              file=sys.stderr)
        return 2
    os.umask(0o077)
    asyncio.run(serve(int(sys.argv[1]), stored_hash))
    return 0


if __name__ == "__main__":
    sys.exit(main())
