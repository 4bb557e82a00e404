"""Hand-written rules of the simulated spinners. Independent of models/tables/ on purpose: the
test set must not be a copy of the tool's own table.

DICTIONARY imitates the WordPress-style news rewriters: `original -> spun options`, one entry per
inflected form, applied case-insensitively to lower-case words (case is restored). PROPER lists the
typical proper-noun damage, matched case-sensitively and applied only occasionally.
"""

DICTIONARY = """
a lot of: loads of | a whole lot of
about: about | round
access: entry
according to: based on | in accordance with | in line with
accused: accused | charged
actually: really | truly
added: added | stated
advertisements: commercials
after: after | following
against: towards | in opposition to
agreement: settlement
ahead of: forward of | prematurely of
allow: permit | enable
allowed: permitted | allowed
almost: nearly | virtually
already: already
also: additionally | additionally | moreover
although: though | despite the fact that
among: amongst | amongst
announced: introduced
another: one other
appear: seem
area: space | realm
areas: areas | areas of the nation
around: round | round
asked: requested
attack: assault
attacks: assaults
author: writer
bad: unhealthy
because: as a result of
because of: due to | on account of
before: earlier than
begin: start
believe: consider | imagine
big: large | massive
bill: invoice
billions: billions | billions of
book: e book | guide
books: books | guides
build: construct
built: constructed
business: enterprise
businesses: companies
buy: purchase
campaign: marketing campaign
car: automotive | automobile
cars: vehicles | automobiles
children: youngsters | kids
city: metropolis
clear: clear | clear
climate change: local weather change
close: shut
companies: firms | corporations
company: firm | firm
completely: utterly | fully
conference: convention
continue: proceed
continued: continued | persevered
cost: value | price
costs: prices | prices
countries: nations
country: nation
currently: presently | at the moment
data: knowledge
death: demise | dying
decided: determined
decision: determination | choice
despite: regardless of | in spite of
develop: develop
development: improvement | growth
different: totally different | completely different
difficult: tough | troublesome
discussed: mentioned
disease: illness
during: throughout
economic: financial
economy: financial system | economic system
email: e mail | electronic mail
employees: workers | staff
especially: particularly | particularly
expect: count on | anticipate
expected: anticipated | anticipated
experts: specialists | consultants
explained: defined
facilities: amenities | services
families: households
family: household
fighting: combating | preventing
film: movie
find: discover
fire: hearth
forced labor: compelled labor
forced labour: compelled labour
found: discovered
get: get | get hold of
give: give | give
going to: going to | going to
government: authorities
groups: teams
growth: progress | development
hard: arduous | exhausting
health: well being
help: assist
high: excessive
higher: increased | larger
home: dwelling | residence
hospital: hospital | hospital
however: nevertheless | nonetheless
huge: large | enormous
hundreds: tons of | lots of
important: vital | essential | necessary
in addition: as well as
include: embody
includes: contains | consists of
including: together with | together with | along with
increase: improve | enhance
increased: elevated | elevated
information: info | data
instead of: as a substitute of | as an alternative of
international: worldwide
investigate: examine | research
investigation: investigation
investors: buyers | traders
issue: difficulty | challenge | subject
issues: points | points
job: job
keep: maintain | hold
kids: children | youngsters
last month: final month | final month
last week: final week | final week
last year: final 12 months | final yr
laws: legal guidelines
leader: chief
leaders: leaders
least: least | least
legislation: laws
likely: probably | seemingly
live: stay | reside
lives: lives | lives
living: dwelling | residing
local: native
long: lengthy
look: look | look
lost: misplaced
major: main
make: make | make
many: many | many
market: market | market
meeting: assembly
meetings: conferences | conferences
men: males
method: technique
millions: tens of millions | hundreds of thousands | thousands and thousands
money: cash
month: month
months: months
move: transfer
movie: film
national: nationwide
nearly: almost | practically
need: want
new: new
news: information
officials: officers | officers
often: typically | usually
old: outdated | previous
one of: considered one of | one of many
online: on-line
only: solely
other: different | different
part of: a part of | a part of
particularly: notably | significantly
patients: sufferers
people: individuals | folks | individuals
percent: p.c | %
phone: telephone | cellphone
plan: plan
police: police
possible: attainable | potential | doable
president: president
prevent: stop | forestall
price: value | worth
prices: costs | costs
problem: drawback | downside
problems: issues | issues
protect: shield | defend
provide: present | present
quickly: rapidly | shortly
receive: obtain
received: obtained | acquired
recent: current | latest
recently: lately | just lately | not too long ago
reduce: scale back | cut back
region: area
religious: non secular
remain: stay
report: report
research: analysis
researchers: researchers
return: return
said: stated | mentioned | said
says: says | says
season: season
sell: promote
several: a number of
shares: shares
show: present
showed: confirmed
shows: exhibits | reveals
similar: related | comparable
small: small
sold: offered
soon: quickly
start: begin
statement: assertion
still: nonetheless | nonetheless
stop: cease
story: story
students: college students
study: examine | research
such as: akin to | reminiscent of | corresponding to
support: help | assist
technology: expertise | know-how
think: assume | suppose
thousands: 1000's | hundreds
time: time
times: occasions | instances
today: at present | right this moment | immediately
told: instructed | advised | informed
top: high
training: coaching
trip: journey
try: strive | attempt
tried: tried
use: use
used: used
using: utilizing
very: very
video: video
want: need
war: battle | warfare
way: method | means
website: web site
week: week
were: had been | have been
whether: whether or not
while: whereas
win: win
within: inside
without: with out
women: girls | ladies
won: received
work: work
workers: employees | staff
world: world
year: 12 months | yr
years: years
young: younger
"""

# Proper nouns damaged by a blind dictionary: original -> spun, exact case.
PROPER = """
White House: White Home
House of Representatives: Home of Representatives
House Speaker: Home Speaker
Bill Gates: Invoice Gates
Chinese: Chinese language
Japanese: Japanese language
May: Might
March: March
Apple: Apple
Senate: Senate
Home Office: Dwelling Workplace
New Year: New 12 months
Prime Minister: Prime Minister
Brexit: Brexit
"""

# Literal calques and false friends of machine translation: natural -> translated.
CALQUES = """
in recent years: in the last years | these last years
on the other hand: on the other side
take into account: take in account
in order to: in the goal to | with the aim to
at the same time: in the same time
as soon as possible: the most quickly possible
take part in: take part to
depends on: depends of
depend on: depend of
discuss: discuss about
currently: actually
possibly: eventually
sensitive: sensible
for years: since years
make a decision: take a decision
carry out: realise
in particular: in special
it is necessary to: it is needed to
a lot of: a lot of
according to: following
for example: by example
in fact: in effect
at least: at less
more and more: each time more
each other: themselves
as well as: so well as
in spite of: in spite
to attend: to assist
attended: assisted
"""


def parse(block: str) -> dict[str, list[str]]:
    """`key: a | b` lines -> {key: [a, b]}; identical options (spinners keep some words) dropped."""
    out: dict[str, list[str]] = {}
    for line in block.strip().splitlines():
        key, _, vals = line.partition(":")
        opts = [v.strip() for v in vals.split("|") if v.strip() and v.strip() != key.strip()]
        if opts:
            out[key.strip()] = opts
    return out
