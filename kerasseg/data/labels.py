"""Class names, colour palettes and label-id tables of the standard
datasets (`kerasseg.data.standard`), as their authors publish them.

No TensorFlow here: the dataset table (`kerasseg.data.specs`) and the
config checks read these without building a pipeline.
"""

# The folder that holds the user's standard datasets, one subfolder each
# (cityscapes/, voc/, ade20k/, oxford_pets/): the loaders' default root.
DATA_ENV = "KERASSEG_DATA"

# --- Cityscapes -----------------------------------------------------------
# The label ids of gtFine/gtCoarse `*_labelIds.png` (cityscapesScripts'
# labels.py): (id, name, train id, colour); train id None = not trained,
# mapped to the ignore value. License plate (id -1) is not in the
# labelIds images' range and is ignored with every other unlisted value.
CITYSCAPES_LABELS = (
    (0, "unlabeled", None, (0, 0, 0)),
    (1, "ego vehicle", None, (0, 0, 0)),
    (2, "rectification border", None, (0, 0, 0)),
    (3, "out of roi", None, (0, 0, 0)),
    (4, "static", None, (0, 0, 0)),
    (5, "dynamic", None, (111, 74, 0)),
    (6, "ground", None, (81, 0, 81)),
    (7, "road", 0, (128, 64, 128)),
    (8, "sidewalk", 1, (244, 35, 232)),
    (9, "parking", None, (250, 170, 160)),
    (10, "rail track", None, (230, 150, 140)),
    (11, "building", 2, (70, 70, 70)),
    (12, "wall", 3, (102, 102, 156)),
    (13, "fence", 4, (190, 153, 153)),
    (14, "guard rail", None, (180, 165, 180)),
    (15, "bridge", None, (150, 100, 100)),
    (16, "tunnel", None, (150, 120, 90)),
    (17, "pole", 5, (153, 153, 153)),
    (18, "polegroup", None, (153, 153, 153)),
    (19, "traffic light", 6, (250, 170, 30)),
    (20, "traffic sign", 7, (220, 220, 0)),
    (21, "vegetation", 8, (107, 142, 35)),
    (22, "terrain", 9, (152, 251, 152)),
    (23, "sky", 10, (70, 130, 180)),
    (24, "person", 11, (220, 20, 60)),
    (25, "rider", 12, (255, 0, 0)),
    (26, "car", 13, (0, 0, 142)),
    (27, "truck", 14, (0, 0, 70)),
    (28, "bus", 15, (0, 60, 100)),
    (29, "caravan", None, (0, 0, 90)),
    (30, "trailer", None, (0, 0, 110)),
    (31, "train", 16, (0, 80, 100)),
    (32, "motorcycle", 17, (0, 0, 230)),
    (33, "bicycle", 18, (119, 11, 32)),
)
_TRAINED = sorted(
    (train, name, colour)
    for _, name, train, colour in CITYSCAPES_LABELS
    if train is not None
)
CITYSCAPES_CLASSES = tuple(name for _, name, _ in _TRAINED)
CITYSCAPES_PALETTE = tuple(colour for _, _, colour in _TRAINED)


def cityscapes_train_ids(ignore_index=255):
    """{label id: train id} for every 8-bit value: the 19 trained classes
    to 0…18, everything else to `ignore_index`."""
    table = dict.fromkeys(range(256), ignore_index)
    for label, _, train, _ in CITYSCAPES_LABELS:
        if train is not None:
            table[label] = train
    return table


# --- Pascal VOC 2012 ------------------------------------------------------
VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
VOC_BORDER = 255  # object borders and hard pixels in SegmentationClass


def voc_colour(index):
    """The VOC devkit's colour of palette index `index` (VOClabelcolormap:
    the index's bits dealt to red, green and blue from the top bit down)."""
    r = g = b = 0
    for shift in range(7, -1, -1):
        r |= (index & 1) << shift
        g |= ((index >> 1) & 1) << shift
        b |= ((index >> 2) & 1) << shift
        index >>= 3
    return (r, g, b)


VOC_PALETTE = tuple(voc_colour(i) for i in range(len(VOC_CLASSES)))

# --- ADE20K (SceneParsing, ADEChallengeData2016) --------------------------
# Annotation value k (1…150) is class k - 1 here; 0 ("other") is ignored.
# Names: the first name of each row of objectInfo150; colours: the
# benchmark's colour150 table (two classes, road and skyscraper, share
# one grey there).
_ADE20K = """
120 120 120  wall
180 120 120  building
  6 230 230  sky
 80  50  50  floor
  4 200   3  tree
120 120  80  ceiling
140 140 140  road
204   5 255  bed
230 230 230  windowpane
  4 250   7  grass
224   5 255  cabinet
235 255   7  sidewalk
150   5  61  person
120 120  70  earth
  8 255  51  door
255   6  82  table
143 255 140  mountain
204 255   4  plant
255  51   7  curtain
204  70   3  chair
  0 102 200  car
 61 230 250  water
255   6  51  painting
 11 102 255  sofa
255   7  71  shelf
255   9 224  house
  9   7 230  sea
220 220 220  mirror
255   9  92  rug
112   9 255  field
  8 255 214  armchair
  7 255 224  seat
255 184   6  fence
 10 255  71  desk
255  41  10  rock
  7 255 255  wardrobe
224 255   8  lamp
102   8 255  bathtub
255  61   6  railing
255 194   7  cushion
255 122   8  base
  0 255  20  box
255   8  41  column
255   5 153  signboard
  6  51 255  chest of drawers
235  12 255  counter
160 150  20  sand
  0 163 255  sink
140 140 140  skyscraper
250  10  15  fireplace
 20 255   0  refrigerator
 31 255   0  grandstand
255  31   0  path
255 224   0  stairs
153 255   0  runway
  0   0 255  case
255  71   0  pool table
  0 235 255  pillow
  0 173 255  screen door
 31   0 255  stairway
 11 200 200  river
255  82   0  bridge
  0 255 245  bookcase
  0  61 255  blind
  0 255 112  coffee table
  0 255 133  toilet
255   0   0  flower
255 163   0  book
255 102   0  hill
194 255   0  bench
  0 143 255  countertop
 51 255   0  stove
  0  82 255  palm
  0 255  41  kitchen island
  0 255 173  computer
 10   0 255  swivel chair
173 255   0  boat
  0 255 153  bar
255  92   0  arcade machine
255   0 255  hovel
255   0 245  bus
255   0 102  towel
255 173   0  light
255   0  20  truck
255 184 184  tower
  0  31 255  chandelier
  0 255  61  awning
  0  71 255  streetlight
255   0 204  booth
  0 255 194  television receiver
  0 255  82  airplane
  0  10 255  dirt track
  0 112 255  apparel
 51   0 255  pole
  0 194 255  land
  0 122 255  bannister
  0 255 163  escalator
255 153   0  ottoman
  0 255  10  bottle
255 112   0  buffet
143 255   0  poster
 82   0 255  stage
163 255   0  van
255 235   0  ship
  8 184 170  fountain
133   0 255  conveyer belt
  0 255  92  canopy
184   0 255  washer
255   0  31  plaything
  0 184 255  swimming pool
  0 214 255  stool
255   0 112  barrel
 92 255   0  basket
  0 224 255  waterfall
112 224 255  tent
 70 184 160  bag
163   0 255  minibike
153   0 255  cradle
 71 255   0  oven
255   0 163  ball
255 204   0  food
255   0 143  step
  0 255 235  tank
133 255   0  trade name
255   0 235  microwave
245   0 255  pot
255   0 122  animal
255 245   0  bicycle
 10 190 212  lake
214 255   0  dishwasher
  0 204 255  screen
 20   0 255  blanket
255 255   0  sculpture
  0 153 255  hood
  0  41 255  sconce
  0 255 204  vase
 41   0 255  traffic light
 41 255   0  tray
173   0 255  ashcan
  0 245 255  fan
 71   0 255  pier
122   0 255  crt screen
  0 255 184  plate
  0  92 255  monitor
184 255   0  bulletin board
  0 133 255  shower
255 214   0  radiator
 25 194 194  glass
102 255   0  clock
 92   0 255  flag
"""
_ADE20K_ROWS = [line.split(None, 3) for line in _ADE20K.strip().splitlines()]
ADE20K_CLASSES = tuple(row[3] for row in _ADE20K_ROWS)
ADE20K_PALETTE = tuple(tuple(int(v) for v in row[:3]) for row in _ADE20K_ROWS)


def ade20k_ids(ignore_index=255):
    """{annotation value: class id}: 0 → `ignore_index`, k → k - 1."""
    return {0: ignore_index, **{k: k - 1 for k in range(1, 151)}}


# --- Oxford-IIIT Pet ------------------------------------------------------
# Trimaps: 1 pet, 2 background, 3 border (not classified).
PET_BORDERS = ("class", "ignore")


def pet_classes(border="class"):
    """Class names of the trimap with its border as a class or ignored."""
    if border == "class":
        return ("background", "pet", "border")
    return ("background", "pet")


def pet_ids(border="class", ignore_index=None):
    """{trimap value: class id}: background 0, pet 1, and the border 2
    (`border="class"`) or `ignore_index` (`border="ignore"`)."""
    if border not in PET_BORDERS:
        raise ValueError(
            f"`border` must be one of {list(PET_BORDERS)}. "
            f"Received: border={border!r}"
        )
    if border == "ignore":
        if ignore_index is None:
            raise ValueError(
                "border='ignore' needs an ignore_index (e.g. 255)."
            )
        return {1: 1, 2: 0, 3: ignore_index}
    return {1: 1, 2: 0, 3: 2}
