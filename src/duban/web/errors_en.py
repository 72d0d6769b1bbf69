"""English of the domain errors' templates whose key is not what a reader should see.

A template (see :mod:`duban.kernel.errors`) is written in English and is the key of the
catalogues; most read well as they are. Some name request fields, API paths, command-line
flags or data-file structure, or carry Chinese terms: the English face shows the text here
instead (the Chinese one uses :mod:`duban.web.errors_zh`). ``tests/kernel/test_error_messages.py``
checks that each key is a template of the Chinese catalogue and uses only its placeholders.
"""

from __future__ import annotations

from typing import Final

ERRORS_EN: Final[dict[str, str]] = {
    # accounts
    "'system' is not a role a person can have": "“System” is not a role a person can have.",
    "a unit handler needs a unit": "A unit handler must belong to a unit.",
    "a unit handler needs a unit (--unit CODE)": "A unit handler must belong to a unit.",
    "unknown territory '{code}': give the code of a district or a street": (
        "Choose a district or a street from the list."
    ),
    "the beat must be a valid (Multi)Polygon": "The beat must be a valid area on the map.",
    "the beat is not a GeoJSON geometry": "The beat is not a valid area on the map.",
    "the beat is not a GeoJSON geometry or Feature": "The beat is not a valid area on the map.",
    "the beat must be a Polygon or MultiPolygon, not {kind}": (
        "The beat must be an area on the map, not a {kind}."
    ),
    "give the beat as one area: a FeatureCollection of one Feature": (
        "The file must hold the beat as one area."
    ),
    "role '{role}' does not belong to a unit": "The role “{role}” does not belong to a unit.",
    # api
    "sign in first: send 'Authorization: Bearer <token>' (get one from POST /api/v1/auth/token)": (
        "Please sign in first."
    ),
    "this account no longer exists, is disabled or was signed out; sign in again": (
        "This account no longer exists, is disabled or was signed out. Please sign in again."
    ),
    "the access token is invalid or expired; sign in again": (
        "Your sign-in has expired. Please sign in again."
    ),
    "Not Found": "Not found.",
    "Method Not Allowed": "This request method is not allowed here.",
    "an unexpected error happened; it has been logged": (
        "Something went wrong on our side; it has been recorded."
    ),
    # cases
    "case {case_id} does not exist or is not visible to you": (
        "This case does not exist, or you do not have access to it."
    ),
    "case {case_code} does not exist": "Case {case_code} does not exist.",
    "unknown unit '{code}'": "There is no unit “{code}”.",
    "unknown unit '{unit_code}'": "There is no unit “{unit_code}”.",
    "case '{duplicate_of}' does not exist": "Case {duplicate_of} does not exist.",
    "give both 'lat' and 'lon' to correct the location": (
        "To correct the location, give both the latitude and the longitude."
    ),
    "check needs 'passed': true (核查通过) or false (返工)": "Choose passed or rework.",
    "a fix on the spot needs at least one after photo ('after_photo_ids')": (
        "Please upload at least one photo taken after the fix."
    ),
    "a fix on the spot needs at least one photo of the problem ('photo_ids')": (
        "Please upload at least one photo of the problem."
    ),
    "no collector's beat covers this place; name one with 'collector'": (
        "This place is in no collector's beat. Please choose a collector."
    ),
    "give the new deadline as 'until' (ISO datetime with zone) or 'amount' (in the case's limit unit)": (
        "Please give the new deadline."
    ),
    "merge needs 'duplicate_of' (the case code or id it repeats)": (
        "Please give the number of the case this one repeats."
    ),
    "action '{action}' needs a 'reason'": "Please give a reason.",
    "category '{category_code}' has no filing condition with a time limit; an admin must add one before cases can be dispatched": (
        "Category {category_code} has no filing condition with a time limit; an administrator "
        "must add one before its cases can be dispatched."
    ),
    "category '{category_code}' has no filing condition (立案条件); an admin must add one": (
        "Category {category_code} has no filing condition; an administrator must add one."
    ),
    "{unit_code} {unit_name} is a body outside 城管: hand the case over to it with 'transfer'": (
        "{unit_name} is a body outside city management: hand the case over to it."
    ),
    "the responsibility list gives this matter to {body_code} {body_name}: hand it over with 'transfer', or give a 'reason' to dispatch it to a unit of ours": (
        "The responsibility list gives this matter to {body_name}: hand the case over, or give "
        "a reason to dispatch it to one of our units."
    ),
    "case {case_code} is led by another unit; only the lead unit's handlers may act": (
        "Case {case_code} is led by another unit; only the lead unit's handlers may act on it."
    ),
    "photo {pid} fails the photo checks ({check}: {detail}); this category does not accept such a fix: take a new photo at the place": (
        "A photo failed the photo checks, and this category does not accept such a fix. "
        "Please take a new photo at the place."
    ),
    "the photo checks failed this feedback; passing it needs a 'reason'": (
        "The photo checks failed this feedback; to pass it, please give a reason."
    ),
    "routing suggests none for this case; dispatch needs the lead 'unit' (a unit code)": "Routing suggests no unit for this case. Please choose the lead unit.",
    "dispatch needs the lead 'unit' (a unit code)": "Please choose the lead unit.",
    "routing suggests {suggested_code} {suggested_name} ({routing_reason}); to dispatch to {unit_code} instead, give a 'reason' for the override": (
        "The unit chosen is not the one suggested ({suggested_name}). Please give a reason "
        "for the change."
    ),
    "'{collector}' is not an active collector": "{collector} is not an active collector.",
    "unknown rework_reason '{given}'; use one of: {codes}": "Please choose a rework reason.",
    "{action} needs a 'rating', one of: {names}": "Please choose a rating.",
    "'{action}' is part of a report: POST /api/v1/cases": (
        "This step is part of a report; send it with the report."
    ),
    "sort '{sort}' is not one of {choices} (a leading '-' reverses)": (
        "The list cannot be sorted by “{sort}”; choose one of: {choices}."
    ),
    "at least one photo is required (upload with POST /api/v1/photos)": (
        "Please add at least one photo."
    ),
    "this Idempotency-Key was already used for a different request; use a new key": (
        "This request was already sent with different content. Please reload the form and "
        "send it again."
    ),
    "'after_photo_ids' go with \"fixed_on_site\": true": (
        "Photos after the fix are only for a problem fixed on the spot."
    ),
    "role '{role}' may not report cases from source '{source}'": (
        "As {role} you may not report cases from the source “{source}”."
    ),
    "role '{role}' may not fix a problem on the spot; allowed: {choices}": (
        "As {role} you may not fix a problem on the spot."
    ),
    "'hotline_ticket' is the 12345 ticket number of a hotline case (source 'hotline')": (
        "A 12345 ticket number belongs only to a hotline case."
    ),
    "a report without an account takes a form token of at least {MIN_ANONYMOUS_KEY_CHARS} characters as its key": (
        "This form has expired. Please reload the page and send it again."
    ),
    "no report has this tracking code; check the code and try again": (
        "No report has this tracking code. Please check the code and try again."
    ),
    "a case in status '{status}' ({value}) cannot be '{action}'": (
        "A case that is {status} cannot be {action}."
    ),
    "communities and grids need a bbox": "Communities and grids are listed for a map area only.",
    "the map box '{bbox}' is not west,south,east,north in degrees": ("The map area is not valid."),
    "level must be district, street, community or grid": (
        "The level must be district, street, community or grid."
    ),
    "crs must be wgs84 or gcj02": "The coordinate system must be WGS84 or GCJ-02.",
    # evaluation and supervision policies (YAML)
    "{where}: expected days and hours": "{where}: give the days and the hours.",
    "{where}: days 1..7 and hours as HH:MM-HH:MM": (
        "{where}: days are 1 to 7 and hours are written like 08:00-17:30."
    ),
    "patrol: expected days, hours and optionally collectors": (
        "Patrol: give the days and the hours, and optionally the collectors."
    ),
    "patrol.collectors: expected username: days and hours": (
        "Patrol collectors: give each collector's username with its days and hours."
    ),
    "{where}: expected a mapping": "{where}: give the settings as named entries.",
    "{where}: expected a name or a list of names": "{where}: give a name or a list of names.",
    "{where}: expected a number, got {raw!r}": "{where}: give a number, not “{raw}”.",
    "evaluation definitions: expected conditions and indicators": (
        "Evaluation definitions: give the conditions and the indicators."
    ),
    "evaluation schemes: expected a mapping 'schemes'": (
        "Evaluation schemes: give the schemes as named entries."
    ),
    "case facts: expected a list 'facts' of at most {MAX_FACTS}": (
        "Case facts: give a list of at most {MAX_FACTS} facts."
    ),
    "case fact #{value}: expected NAME: {{action: ...}}": (
        "Case fact #{value}: give a name with its action."
    ),
    "condition {name!r}: expected fact and optionally source": (
        "Condition “{name}”: give the case fact, and optionally the source."
    ),
    "{where}: expected {{any: [...], none: [...]}}": "{where}: give the lists “any” and “none”.",
    "the policy is invalid: {err}": "The policy is invalid: {err}",
    "the policy must be a JSON object": "The policy must be a set of named settings.",
    # photos
    "the photo is larger than the limit of {max_photo_bytes} bytes": (
        "The photo is too large. Please upload a smaller photo."
    ),
    "the photo is {count} bytes; the limit is {max_bytes} bytes": (
        "The photo is too large. Please upload a smaller photo."
    ),
    "a photo is larger than the limit of {max_bytes} bytes": (
        "A photo is too large. Please upload a smaller photo."
    ),
    "the photo would take {cost} bytes to decode ({width}×{height} pixels of {mode}, as stored); the limit is {budget}": (
        "The photo has too many pixels. Please upload a smaller photo."
    ),
    "the photo is {width}×{height} = {value} pixels; the limit is {max_pixels}": (
        "The photo has too many pixels ({width}×{height}). Please upload a smaller photo."
    ),
    "the file is not a readable image": "The file is not a photo that can be read.",
    "unsupported image format {value}; send JPEG, PNG, WebP or HEIC": (
        "This image format is not supported. Please send a JPEG, PNG, WebP or HEIC photo."
    ),
    # hand-over
    "a hand-over needs the body ('unit': the code of a body outside 城管)": (
        "Please choose the body outside city management to hand the case over to."
    ),
    "'{code}' is not an active body outside 城管": (
        "{code} is not an active body outside city management."
    ),
    "unit '{code}' is a unit of 城管, not a body outside it": (
        "{code} is a unit of city management, not a body outside it."
    ),
    # kernel
    "'{field_name}' holds a control character (U+{value:04X}) at position {value2}; only text, newlines and tabs are accepted": (
        "“{field_name}” contains a character that cannot be stored; only text, line breaks "
        "and tabs are accepted."
    ),
    "'{field_name}' is required and must not be blank": "Please fill in “{field_name}”.",
    "'{field_name}' is {count} characters long; the limit is {limit}": (
        "“{field_name}” is too long: {count} characters, at most {limit}."
    ),
    "'{field}' must be a finite number": "“{field}” must be a number.",
    "'{field}' must be a whole number": "“{field}” must be a whole number.",
    "'{field}' is outside the range of times Duban keeps": "“{field}” is not a possible date.",
    # web forms
    "the form is larger than {MAX_URLENCODED_BYTES} bytes": "The form is too large to send.",
    "the form cannot be read": "The form could not be read. Please send it again.",
    "the area is not a GeoJSON geometry": "The area is not a valid area on the map.",
    "the taxonomy has {count} problem{value}:\n{listing}": (
        "The taxonomy has {count} problem{value}; each is listed in the details."
    ),
    "at most {MAX_FORM_FIELDS} form fields": "The form has too many fields.",
    "the file is larger than {MAX_UPLOAD_BYTES} bytes": "The file is too large.",
    # places
    "the point {wlon:.6f}, {wlat:.6f} (WGS84; given as {lon}, {lat} in {crs}) is outside every grid, community, street and district known to Duban": (
        "This place is outside every grid, community, street and district of the city. "
        "Please check the location and its coordinate system."
    ),
    "the point {lon:.6f}, {lat:.6f} (WGS84) lies outside every unit grid of the city{where}; check the location and its coordinate system ('crs': wgs84, gcj02 or bd09 — map apps in China give gcj02 or bd09)": (
        "This place lies outside every grid of the city. Please check the location and its "
        "coordinate system."
    ),
    "unknown coordinate system '{crs}'; expected wgs84, gcj02, bd09 or cgcs2000": (
        "Unknown coordinate system “{crs}”; use WGS84, GCJ-02, BD-09 or CGCS2000."
    ),
    "bbox must be 'minlon,minlat,maxlon,maxlat' in WGS84": (
        "The map area must be given as west, south, east and north edges in degrees."
    ),
    "only an administrator may change the map and routing (you are '{role}')": (
        "Only an administrator may change the map and routing."
    ),
    "only an administrator may change reference data (you are '{role}')": (
        "Only an administrator may change reference data."
    ),
    "give both the place level and the place code, or neither (anywhere)": (
        "Give both the kind of place and the place, or neither (anywhere)."
    ),
    "unknown category '{category_code}'; see GET /api/v1/categories": (
        "Unknown category {category_code}."
    ),
    "unknown category '{code}'; see GET /api/v1/categories": "Unknown category {code}.",
    "no {place_level} has the code '{place_code}'; import the regions first": (
        "No {place_level} has the code {place_code}."
    ),
    "category '{code}' ({category_name}) is a major class; choose one of its subclasses": (
        "{category_name} is a major class; choose one of its subclasses."
    ),
    # platforms
    "{unit} is a unit of the platform {platform}: send the case down to it with 'dispatch_to_platform'": (
        "{unit} is a unit of the platform {platform}: send the case down to that platform."
    ),
}
