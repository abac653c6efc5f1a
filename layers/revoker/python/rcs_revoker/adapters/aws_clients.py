"""One botocore configuration for every AWS client: short timeouts, standard retries.

Endpoints come from the standard SDK configuration (AWS_ENDPOINT_URL works), never from code.
"""

from botocore.config import Config

from rcs_revoker import SERVICE_NAME, __version__

AWS_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=3,
    retries={"mode": "standard", "max_attempts": 3},
    user_agent_appid=f"{SERVICE_NAME}-{__version__}",
)
