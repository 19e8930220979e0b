"""factory_boy factories, one module per app; import them from here."""

from tests.factories.attribution import *  # noqa: F403
from tests.factories.audience import *  # noqa: F403
from tests.factories.billing import *  # noqa: F403
from tests.factories.campaigns import *  # noqa: F403
from tests.factories.console import *  # noqa: F403
from tests.factories.fans import *  # noqa: F403
from tests.factories.merchants import *  # noqa: F403
from tests.factories.redemptions import *  # noqa: F403
