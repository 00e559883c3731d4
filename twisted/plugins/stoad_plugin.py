from twisted.application.service import ServiceMaker

stoad = ServiceMaker(
    "stoad", "stoad.daemon.tap", "Security gateway for AI agents (mTLS reverse proxy).", "stoad"
)
