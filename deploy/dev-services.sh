#!/usr/bin/env bash
# Make sure the local PostgreSQL and Redis the tests use are up, and the browser is there: start them with the
# machine's own commands if they are installed but stopped, and fail with a message
# naming what is missing otherwise. Tests never skip for a missing service.
set -u
PGHOST=${CENR_TEST_PGHOST:-127.0.0.1}
PGPORT=${CENR_TEST_PGPORT:-5432}
REDIS_PORT=${CENR_TEST_REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is down: starting it" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || { echo "error: PostgreSQL is not reachable at $PGHOST:$PGPORT and could not be started; install postgresql (apt-get install postgresql) with trust auth and a database 'test'" >&2; exit 1; }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is down: starting it" >&2
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  fi
  redis_up || { echo "error: Redis is not reachable at 127.0.0.1:$REDIS_PORT and could not be started; install redis-server (apt-get install redis-server)" >&2; exit 1; }
fi
# The HTML bundle is tested in a real browser: Debian's headless Chromium and its driver.
if ! { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Chromium is missing: installing chromium and chromium-driver" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium chromium-driver >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }
  fi
  command -v chromedriver >/dev/null 2>&1 || { echo "error: the browser tests need Chromium and ChromeDriver; install them (apt-get install chromium chromium-driver)" >&2; exit 1; }
fi
# The workbook is rendered as a reviewer's spreadsheet program shows it (tests and `make
# pictures`): LibreOffice Calc, headless, its Python bridge for scripts, and poppler's
# pdftoppm to turn its PDF into pictures.
lo_there() { command -v soffice >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 && /usr/bin/python3 -c "import uno" 2>/dev/null; }  # the system Python: python3-uno is its package
if ! lo_there; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "LibreOffice is missing: installing libreoffice-calc, python3-uno and poppler-utils" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends libreoffice-calc python3-uno poppler-utils >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends libreoffice-calc python3-uno poppler-utils >/dev/null; }
  fi
  lo_there || { echo "error: the workbook renderings need LibreOffice Calc, its Python bridge and pdftoppm; install them (apt-get install libreoffice-calc python3-uno poppler-utils)" >&2; exit 1; }
fi
echo "services: PostgreSQL $PGHOST:$PGPORT and Redis 127.0.0.1:$REDIS_PORT are up; Chromium and LibreOffice are installed"
