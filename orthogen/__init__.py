"""orthogen: foot scan + prescription in, verified custom foot orthosis out.

Every geometry in the package after alignment is in the *standard frame*:
millimetres, z up, weight-bearing plane at z = 0, x from the back of the heel
(x = 0) toward the toes, y to the left of the walking direction. A left foot's
medial side is -y, a right foot's +y.
"""

__version__ = "0.1.0"
