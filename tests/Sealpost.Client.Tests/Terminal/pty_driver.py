#!/usr/bin/env python3
"""Runs a bash script on a pseudo-terminal, as a person at a terminal would, answering prompts.

Usage: pty_driver.py SCRIPT RULES_JSON TIMEOUT_SECONDS
RULES_JSON is a list of [prompt text, answer]; whenever the output since the last answer shows a prompt text, its
answer is typed, then Enter (an answer of "<again>" repeats the previous one; one that ends with Ctrl-C "\\u0003" or
Ctrl-D "\\u0004" is typed without Enter). Everything the terminal
showed is printed on stdout; the exit code is the script's (124 on timeout).
"""
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time


def main():
    script, rules, timeout = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
    pid, master = pty.fork()
    if pid == 0:
        os.execvp("bash", ["bash", "--noprofile", "--norc", script])
    transcript = bytearray()
    pending = ""
    previous = ""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if chunk:
                transcript += chunk
                pending += chunk.decode("utf-8", "replace")
                for prompt, answer in rules:
                    if prompt in pending:
                        # A person reads the prompt before typing: the program has set the terminal up by then.
                        time.sleep(0.3)
                        text = previous if answer == "<again>" else answer
                        previous = text
                        pending = pending[pending.index(prompt) + len(prompt):]
                        os.write(master, (text if text.endswith(("\u0003", "\u0004")) else text + "\n").encode())
                        break
                continue
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = code
            break
    if status is None:
        # Where everything in the terminal's session stands (a stopped stty, a process still waiting), for the report.
        state = subprocess.run(["ps", "-s", str(pid), "-o", "pid,ppid,pgid,tpgid,stat,wchan:24,args"], capture_output=True, text=True).stdout
        transcript.extend(("\n[pty_driver: processes at the timeout]\n" + state).encode())
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sys.stdout.write(transcript.decode("utf-8", "replace") + "\n[pty_driver: timed out]\n")
        sys.exit(124)
    # Whatever the terminal still holds.
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        transcript += chunk
    sys.stdout.write(transcript.decode("utf-8", "replace"))
    sys.exit(os.waitstatus_to_exitcode(status))


main()
