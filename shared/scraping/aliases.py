"""WhoScored team spellings that normalisation alone does not map to football-data's spelling.

Keys are WhoScored names, values football-data.co.uk's (the spelling in its CSVs). Both are added as
aliases of one team, so whichever source loads a club first, the other resolves to the same row.
"""

from __future__ import annotations

from shared.team_names import normalise_name

_WHOSCORED_TO_FOOTBALL_DATA: dict[str, str] = {
    # England
    "Manchester United": "Man United",
    "Man Utd": "Man United",
    "Manchester City": "Man City",
    "Wolverhampton Wanderers": "Wolves",
    "Wolverhampton": "Wolves",
    "Tottenham Hotspur": "Tottenham",
    "Spurs": "Tottenham",
    "Sheffield Utd": "Sheffield United",
    "Sheff Utd": "Sheffield United",
    "West Bromwich Albion": "West Brom",
    "Brighton & Hove Albion": "Brighton",
    "Brighton and Hove Albion": "Brighton",
    "Newcastle United": "Newcastle",
    "Leicester City": "Leicester",
    "West Ham United": "West Ham",
    "Leeds United": "Leeds",
    "Norwich City": "Norwich",
    "Cardiff City": "Cardiff",
    "Swansea City": "Swansea",
    "Stoke City": "Stoke",
    "Huddersfield Town": "Huddersfield",
    "AFC Bournemouth": "Bournemouth",
    # Spain
    "Atletico": "Ath Madrid",
    "Atletico Madrid": "Ath Madrid",
    "Athletic Bilbao": "Ath Bilbao",
    "Athletic Club": "Ath Bilbao",
    "Rayo Vallecano": "Vallecano",
    "Real Betis": "Betis",
    "Celta Vigo": "Celta",
    "Real Sociedad": "Sociedad",
    "Espanyol": "Espanol",
    "Deportivo La Coruna": "La Coruna",
    "Deportivo": "La Coruna",
    "Real Valladolid": "Valladolid",
    "Deportivo Alaves": "Alaves",
    # Germany
    "Bayern": "Bayern Munich",
    "Borussia Dortmund": "Dortmund",
    "Borussia M.Gladbach": "M'gladbach",
    "Borussia Monchengladbach": "M'gladbach",
    "Eintracht Frankfurt": "Ein Frankfurt",
    "FC Cologne": "FC Koln",
    "Cologne": "FC Koln",
    "Bayer Leverkusen": "Leverkusen",
    "RBL": "RB Leipzig",
    "Hertha Berlin": "Hertha",
    "Hertha BSC": "Hertha",
    "Schalke": "Schalke 04",
    "Mainz 05": "Mainz",
    "Arminia Bielefeld": "Bielefeld",
    "Greuther Fuerth": "Greuther Furth",
    "Fortuna Duesseldorf": "Fortuna Dusseldorf",
    "Nuernberg": "Nurnberg",
    "Hamburger SV": "Hamburg",
    "Hannover 96": "Hannover",
    # Italy
    "AC Milan": "Milan",
    "Inter": "Inter",
    "Internazionale": "Inter",
    "Inter Milan": "Inter",
    "Hellas Verona": "Verona",
    "Parma Calcio 1913": "Parma",
    # France
    "Paris Saint-Germain": "Paris SG",
    "PSG": "Paris SG",
    "Saint-Etienne": "St Etienne",
    "Olympique Lyonnais": "Lyon",
    "Olympique Marseille": "Marseille",
    "Stade Rennais": "Rennes",
}

_BY_NORMALISED_NAME = {normalise_name(ws): fd for ws, fd in _WHOSCORED_TO_FOOTBALL_DATA.items()}


def football_data_spelling(whoscored_name: str) -> str | None:
    """football-data's name for a WhoScored team when it differs beyond normalisation, else None."""
    spelling = _BY_NORMALISED_NAME.get(normalise_name(whoscored_name))
    if spelling is None or normalise_name(spelling) == normalise_name(whoscored_name):
        return None
    return spelling
