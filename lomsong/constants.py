"""Physical constants, defined once (SI units, names carry the unit).

Every module takes these from here; ``tests/test_architecture.py`` fails when a physical
constant is defined anywhere else.
"""

from __future__ import annotations

#: Speed of light in vacuum, m/s (exact, SI definition).
SPEED_OF_LIGHT_M_S: float = 299_792_458.0

#: Mean earth radius, m (IUGG mean radius R1, rounded as in ITU-R P.452/P.526).
EARTH_RADIUS_M: float = 6_371_000.0

#: Effective earth-radius factor k of the standard atmosphere (ITU-R P.453 median, 4/3).
K_FACTOR: float = 4.0 / 3.0

#: Effective earth radius k·R for the standard atmosphere, m (≈ 8,495 km).
EFFECTIVE_EARTH_RADIUS_M: float = K_FACTOR * EARTH_RADIUS_M

#: Earth radius a0 of the ITM reference (NTIA itm, ``a_0__meter = 6370e3``), m: the Vogler
#: smooth-earth scaling uses this value, not the mean radius above, to stay NTIA-exact.
ITM_EARTH_RADIUS_M: float = 6370e3

#: Earth radius of ITM's effective-distance formula of the variability (NTIA ``a_9000__meter``), m.
ITM_VARIABILITY_EARTH_RADIUS_M: float = 9000e3

#: Curvature of the actual earth in ITM (NTIA ``gamma_a = 157e-9``), 1/m.
ITM_EARTH_CURVATURE_PER_M: float = 157e-9
