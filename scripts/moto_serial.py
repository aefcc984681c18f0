"""moto's server, answering one request at a time.

moto_server answers each request on its own thread and applies an update by reading the item,
changing it and writing it back, so that concurrent `ADD`s on one item can lose increments
(32 threads of 100 `ADD`s each counted 3,199 here). DynamoDB applies each write to an item
atomically; served one at a time, moto does too, which is what the incident burst needs to
measure (bench/incidents.sh).

usage: python3 scripts/moto_serial.py PORT
"""
import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)
