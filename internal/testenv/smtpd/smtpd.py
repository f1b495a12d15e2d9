"""A real SMTP server for the e-mail receiver's tests: aiosmtpd (Debian's
python3-aiosmtpd) on loopback, STARTTLS required (mode "starttls") or not
offered (mode "plain"), AUTH PLAIN only over TLS, mail into a Maildir.
Recipients full@... get a transient 452, nobody@... a permanent 550.
Runs until its standard input closes."""
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, maildir, user, password, mode = sys.argv[1:8]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
          and auth_data.password == password.encode())
    return AuthResult(success=ok, handled=False)  # False: the server answers 535 itself


class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("full@"):
            return "452 4.2.2 mailbox full"
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


kw = dict(hostname="127.0.0.1", port=int(port), authenticator=authenticator, auth_require_tls=True)
if mode == "starttls":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kw.update(tls_context=ctx, require_starttls=True)
controller = Controller(Handler(maildir), **kw)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
