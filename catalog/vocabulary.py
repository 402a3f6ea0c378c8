"""Canonical attribute values and the English phrasings that mean them.

Each table maps a canonical value to regular-expression phrases matched as whole words on lower-cased English text
(the output of the de->en translator). The labelled set uses the canonical values; the rule-based extractor and the
LLM answer's normalisation both go through these tables, so one vocabulary serves labels, rules and prompts.
Phrases may contain regex syntax; a plain `s?` makes a plural optional.
"""

from __future__ import annotations

TARGET_GROUPS = ("women", "men", "girls", "boys", "baby")
SLEEVE_LENGTHS = ("short", "long", "three-quarter", "sleeveless")

TARGET_GROUP_PHRASES: dict[str, tuple[str, ...]] = {
    "baby": (r"bab(?:y|ies)(?:'s)?", r"newborns?", r"infants?"),
    "girls": (r"girl(?:'s|s'|s)?",),
    "boys": (r"boy(?:'s|s'|s)?",),
    "women": (r"women(?:'s)?", r"woman(?:'s)?", r"ladies'?", r"lady's"),
    "men": (r"men(?:'s)?", r"man's", r"gentlemen(?:'s)?"),
}

# Plural nouns: a prompt says "black men's jeans", not "a black men's jeans".
PLURAL_CATEGORIES = frozenset({
    "jeans", "trousers", "joggers", "shorts", "boxer shorts", "swim shorts", "leggings", "pyjamas", "dungarees",
    "socks", "tights", "briefs",
})

CATEGORIES: dict[str, tuple[str, ...]] = {
    "t-shirt": (r"t-shirts?", r"t shirts?", r"tshirts?", r"tees?"),
    "polo shirt": (r"polo shirts?", r"polos?"),
    # German "Shirt"/"Langarmshirt" is a jersey top; opus renders it "(long sleeve) shirt".
    "top": (r"tops?", r"tank tops?", r"long[- ]sleeved? shirts?", r"long[- ]sleeved? tops?", r"camisoles?"),
    "shirt": (r"shirts?", r"flannel shirts?"),
    "blouse": (r"blouses?",),
    "tunic": (r"tunics?",),
    "sweater": (r"sweaters?", r"pullovers?", r"jumpers?"),
    "sweatshirt": (r"sweatshirts?",),
    "hoodie": (r"hoodies?", r"hooded (?:sweaters?|sweatshirts?|pullovers?)"),
    "cardigan": (r"cardigans?", r"knit(?:ted)? jackets?"),
    "sweat jacket": (r"sweat ?jackets?",),
    "jacket": (r"jackets?", r"anoraks?", r"parkas?", r"blazers?"),
    "coat": (r"coats?",),
    "vest": (r"vests?", r"gilets?", r"body ?warmers?"),
    "dress": (r"dress(?:es)?",),
    "skirt": (r"skirts?",),
    "trousers": (r"trousers", r"pants", r"chinos?", r"slacks"),
    "joggers": (r"jogging (?:trousers|pants|bottoms)", r"sweat ?(?:trousers|pants)", r"joggers"),
    "jeans": (r"jeans",),
    "shorts": (r"shorts", r"bermudas?"),
    "boxer shorts": (r"boxer ?shorts", r"boxers"),
    "swim shorts": (r"swim(?:ming)? (?:shorts|trunks)", r"bathing (?:shorts|trunks)", r"board ?shorts"),
    "leggings": (r"leggings",),
    "pyjamas": (r"pyjamas?", r"pajamas?"),
    "nightdress": (r"nightdress(?:es)?", r"nightgowns?", r"nightshirts?"),
    "bodysuit": (r"bodysuits?", r"bod(?:y|ies)"),
    "romper": (r"rompers?", r"playsuits?"),
    "dungarees": (r"dungarees", r"bib (?:trousers|pants)", r"overalls"),
    "jumpsuit": (r"jumpsuits?",),
    "set": (r"sets?", r"outfits?"),
    "swimsuit": (r"swimsuits?", r"bathing suits?", r"swimming costumes?"),
    "bikini": (r"bikinis?", r"bikini (?:tops?|bottoms?)"),
    "bra": (r"bras?", r"bralettes?"),
    "briefs": (r"briefs", r"panties", r"slips?(?! pockets?)"),
    "undershirt": (r"undershirts?",),
    "socks": (r"socks",),
    "tights": (r"tights",),
    "hat": (r"hats?", r"beanies?", r"caps?"),
    "scarf": (r"scarf", r"scarves"),
    "sleeping bag": (r"sleeping bags?",),
}

COLOURS: dict[str, tuple[str, ...]] = {
    "white": (r"white",),
    "cream": (r"cream", r"off-?white", r"ecru", r"ivory", r"creme"),
    "black": (r"black",),
    "grey": (r"grey", r"gray"),
    "light grey": (r"light gr[ae]y", r"silver gr[ae]y"),
    "dark grey": (r"dark gr[ae]y", r"anthracite", r"charcoal"),
    "navy": (r"navy(?: blue)?", r"dark blue", r"marine(?: blue)?"),
    "blue": (r"blue", r"royal blue", r"cobalt"),
    "light blue": (r"light blue", r"sky blue", r"pale blue", r"ice blue", r"baby blue"),
    "turquoise": (r"turquoise", r"petrol"),
    "mint": (r"mint(?: green)?",),
    "green": (r"green", r"sage(?: green)?", r"emerald"),
    "dark green": (r"dark green", r"bottle green", r"fir green", r"forest green"),
    "olive": (r"olive(?: green)?",),
    "khaki": (r"khaki",),
    "beige": (r"beige", r"sand", r"taupe", r"nude"),
    "camel": (r"camel",),
    "brown": (r"brown", r"cognac", r"chocolate"),
    "red": (r"red",),
    "bordeaux": (r"bordeaux", r"burgundy", r"wine[- ]red", r"berry"),
    "pink": (r"pink", r"light pink", r"hot pink", r"rose pink"),
    "dusky pink": (r"old pink", r"old rose", r"dusky pink", r"dusty pink", r"ros[eé]", r"powder pink"),
    "purple": (r"purple", r"violet", r"lila"),
    "lilac": (r"lilac", r"lavender", r"mauve"),
    "yellow": (r"yellow",),
    "mustard": (r"mustard(?: yellow)?",),
    "orange": (r"orange",),
    "coral": (r"coral",),
    "gold": (r"gold(?:en)?",),
    "silver": (r"silver",),
}

MATERIALS: dict[str, tuple[str, ...]] = {
    "cotton": (r"(?:organic )?cotton", r"baumwolle"),
    "polyester": (r"(?:recycled )?polyester", r"pes"),
    "elastane": (r"elastane", r"elasthane?", r"spandex", r"lycra"),
    "viscose": (r"viscose", r"rayon"),
    "linen": (r"linen",),
    "wool": (r"(?:merino )?wool",),
    "polyamide": (r"polyamide", r"nylon"),
    "acrylic": (r"(?:poly)?acryl(?:ic)?",),
    "modal": (r"modal",),
    "lyocell": (r"lyocell", r"tencel"),
    "polyurethane": (r"polyurethane",),
    "silk": (r"silk",),
    "cashmere": (r"cashmere",),
}

# In priority order: when a text names several, the first listed wins (catalog/data/README.md).
PATTERNS: dict[str, tuple[str, ...]] = {
    "striped": (r"striped", r"stripes?", r"pinstriped?"),
    "checked": (r"checked", r"checkered", r"chequered", r"plaid", r"tartan", r"gingham", r"check pattern"),
    # Floral embroidery is a detail, not a pattern of the fabric.
    "floral": (r"floral(?! embroider)", r"flower (?:print|pattern)s?", r"flowers", r"flowery", r"blossoms?"),
    "polka dot": (r"polka dots?", r"dots", r"dotted", r"spots", r"spotted"),
    "animal print": (r"leopard", r"zebra", r"animal print", r"snake ?print", r"snakeskin"),
    "camouflage": (r"camouflage", r"camo"),
    "nordic": (r"norwegian pattern", r"nordic", r"fair isle"),
    "cable knit": (r"cable (?:pattern|knit)", r"cable-knit"),
    "tie-dye": (r"tie-?dye", r"batik"),
    "print": (r"prints?", r"printed", r"all-?over print"),
    "melange": (r"melange", r"mottled", r"marled", r"heathered"),
    "solid": (r"plain", r"solid colou?r", r"single-colou?red", r"monochrome"),
}

MOTIFS: dict[str, tuple[str, ...]] = {
    "dinosaur": (r"dinos?", r"dinosaurs?"),
    "unicorn": (r"unicorns?",),
    "heart": (r"hearts?",),
    "star": (r"stars?",),
    "rainbow": (r"rainbows?",),
    "butterfly": (r"butterfl(?:y|ies)",),
    "cat": (r"cats?", r"kittens?"),
    "dog": (r"dogs?", r"pupp(?:y|ies)"),
    "bear": (r"bears?", r"teddy", r"teddies"),
    "rabbit": (r"rabbits?", r"bunn(?:y|ies)", r"hares?"),
    "fox": (r"fox(?:es)?",),
    "lion": (r"lions?",),
    "elephant": (r"elephants?",),
    "shark": (r"sharks?",),
    "excavator": (r"excavators?", r"diggers?"),
    "car": (r"cars?",),
    "tractor": (r"tractors?",),
    "rocket": (r"rockets?",),
    "planet": (r"planets?",),
    "football": (r"football", r"soccer ball"),
    "palm tree": (r"palm trees?", r"palms?"),
    "flamingo": (r"flamingos?",),
    "anchor": (r"anchors?",),
    "skull": (r"skulls?",),
    "mickey mouse": (r"mickey mouse",),
    "minnie mouse": (r"minnie mouse",),
}

DETAILS: dict[str, tuple[str, ...]] = {
    "embroidery": (r"embroider(?:y|ies|ed|ing)",),
    "lettering": (r"lettering", r"slogan", r"inscription", r"writing", r"saying"),
    # "push buttons" is opus-mt's rendering of Druckknöpfe (press studs), not buttons.
    "buttons": (r"(?<!push )(?<!press )(?<!snap )buttons?", r"buttoned", r"button placket"),
    "press studs": (r"push buttons?", r"press studs?", r"press buttons?", r"snaps", r"snap buttons?", r"poppers"),
    "zip": (r"zips?", r"zipper(?:ed|s)?", r"zip fasteners?", r"zipped"),
    "hood": (r"hoods?", r"hooded"),
    "pockets": (r"pockets?",),
    # "made of cord" is corduroy (a fabric), any other cord a drawstring.
    "drawstring": (r"drawstrings?", r"draw ?cords?", r"(?<!of )cords?"),
    "ruffles": (r"ruffles?", r"frills?", r"flounces?", r"volants?"),
    "lace": (r"lace",),
    "sequins": (r"sequins?", r"paillettes?"),
    "glitter": (r"glitter(?:ing|y)?", r"sparkles?"),
    "appliqué": (r"appliqu[eé]s?", r"applications?"),
    "bow": (r"bows?",),
    "belt": (r"belt(?! loops?)s?",),
    "cuffs": (r"cuffs?",),
    "elastic waistband": (r"elastic(?:ated)? (?:waist)?band", r"elastic(?:ated)? waist", r"rubber (?:waist)?band"),
    "collar": (r"collars?", r"collared", r"lapels?", r"turtleneck"),
    "knot": (r"knots?", r"knotted"),
    "pleats": (r"pleats?", r"pleated", r"pliss[eé]"),
    "fringes": (r"fringes?", r"fringed"),
}

FITS: dict[str, tuple[str, ...]] = {
    "slim": (r"slim(?:[- ]fit)?", r"narrow (?:cut|fit)"),
    "regular": (r"regular[- ]fit", r"normal fit"),
    "relaxed": (r"relaxed(?:[- ]fit)?",),
    "loose": (r"loose(?:[- ]fit(?:ting)?)?", r"casual cut"),
    "oversized": (r"oversized?",),
    "skinny": (r"skinny(?:[- ]fit)?",),
    "straight": (r"straight(?:[- ](?:fit|leg|cut))",),
    # "wide waistband" is no fit: wide only before leg, fit or cut.
    "wide": (r"wide[- ](?:leg|fit|cut)",),
    "flared": (r"flared?", r"boot ?cut"),
    "fitted": (r"fitted", r"waisted", r"figure-hugging"),
}

SLEEVES: dict[str, tuple[str, ...]] = {
    # One adjective may sit between length and sleeve ("short wing sleeves", "long puff sleeves").
    "short": (r"short(?:[- ]\w+)?[- ]sleeved?s?", r"short[- ]arm(?:ed)?"),
    "long": (r"long(?:[- ]\w+)?[- ]sleeved?s?", r"long[- ]arm(?:ed)?"),
    "three-quarter": (r"(?:3/4|three[- ]quarter)(?:[- ]length)?[- ](?:sleeved?s?|arm)",),
    "sleeveless": (r"sleeveless", r"spaghetti straps?", r"without sleeves"),
}

FABRICS: dict[str, tuple[str, ...]] = {
    "jersey": (r"jersey",),
    # "jeans shorts", "jeans jacket": the fabric; "jeans" alone is the category.
    "denim": (r"denim", r"jeans(?= (?:shorts|jacket|skirt|dress|shirt))"),
    "knit": (r"knit(?:ted)?", r"knitwear"),
    "sweat": (r"sweat(?= ?(?:jacket|trousers|pants|fabric|material))",),
    "fleece": (r"fleece",),
    "corduroy": (r"corduroy", r"needlecord", r"(?<=of )cord"),
    "muslin": (r"muslin", r"gauze"),
    "piqué": (r"piqu[eé]",),
    "satin": (r"satin",),
    "flannel": (r"flannel",),
    "rib": (r"fine ?rib", r"rib(?:bed)? (?:knit|fabric|jersey)"),
    "tulle": (r"tulle",),
    "softshell": (r"soft ?shell",),
    "chiffon": (r"chiffon",),
    "twill": (r"twill",),
    "poplin": (r"poplin",),
    "velvet": (r"velvet", r"velour"),
    "terry": (r"terry(?:cloth)?", r"towelling"),
    "mesh": (r"mesh",),
}
