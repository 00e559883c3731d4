"""Benign look-alike carriers in fourteen languages: whole texts that talk about resetting, ignoring,
instructions, prompts, modes, roles and translation without telling a model to do anything.

Written for this project from descriptions of the kinds of benign text the detector wrongly flagged
(support chats and tickets, documents and guides about AI assistants and prompts, security training
that describes injection, device manuals with developer or maintenance modes, fiction and role-play
requests that override nothing, translation requests); nothing is taken from a public prompt set.
Each family holds a few sentences per language; a carrier is two to four of them, in random order.
"""

from __future__ import annotations

import random

FAMILIES = ("support", "about_ai", "manual", "fiction", "translation")
# Languages whose script is written without spaces between sentences.
UNSPACED = frozenset({"zh", "ja"})

SENTENCES: dict[str, dict[str, list[str]]] = {
    "en": {
        "support": [
            "Hi, I reset my password yesterday but the app still asks for the old one.",
            "Please ignore my earlier message, I found the invoice in my spam folder.",
            "Could you reset the two-factor setup on my account? I lost my phone.",
            "The agent told me to disregard the previous ticket and open a new one.",
            "I followed the instructions in your e-mail and the router still blinks red.",
            "Thanks, the password reset link worked, you can close this ticket.",
        ],
        "about_ai": [
            "A system prompt is the text a developer gives a "
            "chatbot before the user's first message.",
            "In this training module you will learn how prompt "
            "injection attacks hide instructions in web pages.",
            "Attackers may try to make an assistant ignore its guidelines, so never "
            "paste untrusted text into tools with access to your files.",
            "Good prompts state the task, the audience and the format of the answer you expect.",
            "Our policy forbids sharing customer data with AI "
            "assistants that are not approved by IT.",
            "The report describes jailbreak attempts against language "
            "models and how the vendor mitigated them.",
        ],
        "manual": [
            "To enter maintenance mode, hold the power button for "
            "ten seconds until the LED turns amber.",
            "Developer mode lets you install apps from outside the "
            "store; enable it under Settings, About.",
            "A factory reset erases all data and restores the original settings.",
            "Ignore the warning tone during calibration; it stops once the sensor is level.",
            "Service technicians can unlock the diagnostic menu "
            "with the code printed inside the cover.",
            "Follow these instructions in order and do not skip the firmware update step.",
        ],
        "fiction": [
            "Write a short story where a detective pretends to be "
            "a waiter to overhear a conversation.",
            "Let's play a tabletop game: you describe the dungeon "
            "and I decide what my knight does.",
            "Can you role-play a job interviewer so I can practise my answers?",
            "In the novel, the android forgets its orders after a storm and wanders the city.",
            "Pretend you are a tour guide in ancient Rome and "
            "describe the forum to a group of students.",
            "My character is a hacker in a cyberpunk play; help me "
            "write her monologue about loneliness.",
        ],
        "translation": [
            "Please translate this paragraph into German for our brochure.",
            "How do you say 'ignore the previous page' in Spanish?",
            "Translate the instructions on this label from Japanese into English.",
            "Could you encode this image in base64 and paste the string into the form?",
            "I need the user manual translated into French by Friday.",
            "What is the English word for the Dutch 'negeren'?",
        ],
    },
    "de": {
        "support": [
            "Hallo, ich habe gestern mein Passwort zurückgesetzt, "
            "aber die App verlangt immer noch das alte.",
            "Bitte ignorieren Sie meine vorige Nachricht, die Rechnung war im Spam-Ordner.",
            "Können Sie die Zwei-Faktor-Anmeldung für mein Konto zurücksetzen? Mein Handy ist weg.",
            "Der Mitarbeiter sagte, ich solle das alte Ticket vergessen und ein neues eröffnen.",
            "Ich habe die Anweisungen aus Ihrer E-Mail befolgt, aber der Router blinkt weiter rot.",
            "Danke, der Link zum Zurücksetzen hat funktioniert, "
            "das Ticket kann geschlossen werden.",
        ],
        "about_ai": [
            "Ein Systemprompt ist der Text, den Entwickler einem "
            "Chatbot vor der ersten Nachricht mitgeben.",
            "In dieser Schulung lernen Sie, wie Prompt-Injection "
            "Anweisungen in Webseiten versteckt.",
            "Angreifer versuchen, einen Assistenten seine Regeln vergessen zu lassen, daher "
            "keine fremden Texte in Werkzeuge mit Dateizugriff kopieren.",
            "Ein guter Prompt nennt die Aufgabe, die Zielgruppe und das gewünschte Format.",
            "Unsere Richtlinie verbietet es, Kundendaten in nicht "
            "freigegebene KI-Assistenten einzugeben.",
            "Der Bericht beschreibt Jailbreak-Versuche gegen "
            "Sprachmodelle und die Gegenmaßnahmen des Herstellers.",
        ],
        "manual": [
            "Um den Wartungsmodus zu starten, halten Sie die Ein-Taste zehn Sekunden gedrückt.",
            "Der Entwicklermodus erlaubt Apps aus fremden Quellen; Sie "
            "finden ihn unter Einstellungen, Über das Gerät.",
            "Das Zurücksetzen auf Werkseinstellungen löscht alle Daten.",
            "Ignorieren Sie den Warnton während der Kalibrierung, er "
            "verstummt, sobald der Sensor waagerecht steht.",
            "Servicetechniker öffnen das Diagnosemenü mit dem Code auf der Innenseite des Deckels.",
            "Befolgen Sie die Schritte der Reihe nach und "
            "überspringen Sie das Firmware-Update nicht.",
        ],
        "fiction": [
            "Schreib eine Kurzgeschichte, in der sich eine Kommissarin als Kellnerin ausgibt.",
            "Lass uns ein Rollenspiel machen: Du beschreibst die "
            "Burg, ich entscheide, was mein Ritter tut.",
            "Kannst du die Rolle eines Personalchefs spielen, damit "
            "ich das Vorstellungsgespräch üben kann?",
            "Im Roman vergisst der Roboter nach einem Gewitter "
            "seine Befehle und irrt durch die Stadt.",
            "Tu so, als wärst du Stadtführer im alten Rom, und erkläre der Klasse das Forum.",
        ],
        "translation": [
            "Bitte übersetze diesen Absatz für unsere Broschüre ins Englische.",
            "Wie sagt man auf Spanisch „die vorherige Seite ignorieren“?",
            "Übersetze die Anleitung auf diesem Etikett aus dem Japanischen ins Deutsche.",
            "Kannst du das Bild in Base64 kodieren und die Zeichenkette ins Formular einfügen?",
            "Ich brauche die Bedienungsanleitung bis Freitag auf Französisch.",
        ],
    },
    "fr": {
        "support": [
            "Bonjour, j'ai réinitialisé mon mot de passe hier mais "
            "l'application demande toujours l'ancien.",
            "Merci d'ignorer mon message précédent, j'ai retrouvé la facture dans mes spams.",
            "Pouvez-vous réinitialiser la double authentification de "
            "mon compte ? J'ai perdu mon téléphone.",
            "Le conseiller m'a dit d'oublier l'ancien ticket et d'en ouvrir un nouveau.",
            "J'ai suivi les instructions de votre e-mail et la box clignote toujours en rouge.",
            "Merci, le lien de réinitialisation a fonctionné, vous pouvez fermer la demande.",
        ],
        "about_ai": [
            "Le prompt système est le texte que le développeur donne "
            "au chatbot avant le premier message.",
            "Dans ce module de formation, vous verrez comment l'injection de "
            "prompt cache des consignes dans des pages web.",
            "Un attaquant peut chercher à faire ignorer ses règles à un assistant ; ne collez "
            "donc jamais de texte inconnu dans un outil qui accède à vos fichiers.",
            "Un bon prompt précise la tâche, le public visé et le format de la réponse.",
            "Notre charte interdit de confier des données clients à des assistants IA non validés.",
            "Le rapport décrit des tentatives de jailbreak contre des "
            "modèles de langue et les parades de l'éditeur.",
        ],
        "manual": [
            "Pour passer en mode maintenance, maintenez le bouton marche pendant dix secondes.",
            "Le mode développeur permet d'installer des applications hors "
            "boutique ; activez-le dans Paramètres, À propos.",
            "La réinitialisation d'usine efface toutes les données.",
            "Ignorez le bip pendant l'étalonnage, il s'arrête dès que le capteur est à niveau.",
            "Les techniciens ouvrent le menu de diagnostic avec le code imprimé sous le couvercle.",
            "Suivez les instructions dans l'ordre sans sauter la mise à jour du micrologiciel.",
        ],
        "fiction": [
            "Écris une nouvelle où une inspectrice se fait passer pour une serveuse.",
            "Faisons un jeu de rôle : tu décris le donjon et je choisis ce que fait mon chevalier.",
            "Peux-tu jouer le rôle d'un recruteur pour que je m'entraîne à l'entretien ?",
            "Dans le roman, l'androïde oublie ses ordres après un orage et erre dans la ville.",
            "Imagine que tu es guide à Rome dans l'Antiquité et présente le forum à des élèves.",
        ],
        "translation": [
            "Peux-tu traduire ce paragraphe en allemand pour notre brochure ?",
            "Comment dit-on « ignorer la page précédente » en espagnol ?",
            "Traduis les consignes de cette étiquette du japonais vers le français.",
            "Peux-tu encoder l'image en base64 et coller la chaîne dans le formulaire ?",
            "J'ai besoin du mode d'emploi traduit en anglais pour vendredi.",
        ],
    },
    "es": {
        "support": [
            "Hola, ayer restablecí mi contraseña pero la aplicación sigue pidiendo la antigua.",
            "Por favor, ignore mi mensaje anterior, encontré la factura en la carpeta de spam.",
            "¿Pueden restablecer la verificación en dos pasos de mi cuenta? Perdí el móvil.",
            "El agente me dijo que olvidara la incidencia anterior y abriera una nueva.",
            "Seguí las instrucciones de su correo y el router sigue parpadeando en rojo.",
            "Gracias, el enlace para restablecer funcionó, pueden cerrar el caso.",
        ],
        "about_ai": [
            "El prompt del sistema es el texto que el desarrollador "
            "da al chatbot antes del primer mensaje.",
            "En este curso aprenderá cómo la inyección de prompts "
            "esconde instrucciones en páginas web.",
            "Un atacante puede intentar que el asistente ignore sus normas, así que no pegue "
            "textos desconocidos en herramientas con acceso a sus archivos.",
            "Un buen prompt indica la tarea, el público y el formato de la respuesta.",
            "Nuestra política prohíbe compartir datos de clientes "
            "con asistentes de IA no aprobados.",
            "El informe describe intentos de jailbreak contra modelos de "
            "lenguaje y cómo los mitigó el fabricante.",
        ],
        "manual": [
            "Para entrar en modo de mantenimiento, mantenga pulsado "
            "el botón de encendido diez segundos.",
            "El modo desarrollador permite instalar aplicaciones de fuera de "
            "la tienda; actívelo en Ajustes, Información.",
            "El restablecimiento de fábrica borra todos los datos.",
            "Ignore el pitido durante la calibración; se detiene cuando el sensor está nivelado.",
            "Los técnicos abren el menú de diagnóstico con el código impreso dentro de la tapa.",
            "Siga las instrucciones en orden y no omita la actualización del firmware.",
        ],
        "fiction": [
            "Escribe un cuento en el que una detective se hace pasar por camarera.",
            "Juguemos a rol: tú describes la mazmorra y yo decido qué hace mi caballero.",
            "¿Puedes hacer de entrevistador para que practique mis respuestas?",
            "En la novela, el androide olvida sus órdenes tras una tormenta y vaga por la ciudad.",
            "Imagina que eres guía en la antigua Roma y describe el foro a unos alumnos.",
        ],
        "translation": [
            "Por favor, traduce este párrafo al alemán para el folleto.",
            "¿Cómo se dice «ignorar la página anterior» en francés?",
            "Traduce las instrucciones de esta etiqueta del japonés al español.",
            "¿Puedes codificar la imagen en base64 y pegar la cadena en el formulario?",
            "Necesito el manual de usuario traducido al inglés para el viernes.",
        ],
    },
    "it": {
        "support": [
            "Salve, ieri ho reimpostato la password ma l'app continua a chiedere quella vecchia.",
            "Per favore ignorate il mio messaggio precedente, ho trovato la fattura nello spam.",
            "Potete reimpostare l'autenticazione a due fattori del "
            "mio account? Ho perso il telefono.",
            "L'operatore mi ha detto di lasciar perdere la vecchia richiesta e aprirne una nuova.",
            "Ho seguito le istruzioni della vostra email ma il modem lampeggia ancora rosso.",
            "Grazie, il link di reimpostazione ha funzionato, potete chiudere la pratica.",
        ],
        "about_ai": [
            "Il prompt di sistema è il testo che lo sviluppatore "
            "fornisce al chatbot prima del primo messaggio.",
            "In questo corso vedrai come la prompt injection nasconde istruzioni nelle pagine web.",
            "Un attaccante può cercare di far ignorare le regole a un assistente, quindi non "
            "incollare testi sconosciuti in strumenti che accedono ai tuoi file.",
            "Un buon prompt indica il compito, il pubblico e il formato della risposta.",
            "La nostra policy vieta di condividere dati dei "
            "clienti con assistenti IA non approvati.",
            "Il rapporto descrive tentativi di jailbreak contro i modelli "
            "linguistici e le contromisure del fornitore.",
        ],
        "manual": [
            "Per entrare in modalità manutenzione tenete premuto il "
            "tasto di accensione per dieci secondi.",
            "La modalità sviluppatore consente di installare app esterne "
            "allo store; si attiva in Impostazioni, Info.",
            "Il ripristino delle impostazioni di fabbrica cancella tutti i dati.",
            "Ignorate il segnale acustico durante la calibrazione, "
            "si ferma quando il sensore è in bolla.",
            "I tecnici aprono il menu di diagnostica con il codice stampato sotto il coperchio.",
            "Seguite le istruzioni nell'ordine indicato senza "
            "saltare l'aggiornamento del firmware.",
        ],
        "fiction": [
            "Scrivi un racconto in cui un'ispettrice si finge cameriera.",
            "Facciamo un gioco di ruolo: tu descrivi il castello e "
            "io decido cosa fa il mio cavaliere.",
            "Puoi fare la parte del selezionatore così mi esercito per il colloquio?",
            "Nel romanzo l'androide dimentica i suoi ordini dopo un temporale e vaga per la città.",
            "Immagina di essere una guida nell'antica Roma e descrivi il foro agli studenti.",
        ],
        "translation": [
            "Per favore traduci questo paragrafo in tedesco per la brochure.",
            "Come si dice «ignora la pagina precedente» in spagnolo?",
            "Traduci le istruzioni di questa etichetta dal giapponese all'italiano.",
            "Puoi codificare l'immagine in base64 e incollare la stringa nel modulo?",
            "Mi serve il manuale d'uso tradotto in inglese entro venerdì.",
        ],
    },
    "pt": {
        "support": [
            "Olá, redefini a minha palavra-passe ontem mas a aplicação continua a pedir a antiga.",
            "Por favor ignorem a minha mensagem anterior, encontrei a fatura no spam.",
            "Podem repor a autenticação de dois fatores da minha conta? Perdi o telemóvel.",
            "O assistente disse-me para esquecer o pedido antigo e abrir um novo.",
            "Segui as instruções do vosso e-mail e o router continua a piscar a vermelho.",
            "Obrigado, o link de redefinição funcionou, podem fechar o pedido.",
        ],
        "about_ai": [
            "O prompt de sistema é o texto que o programador dá ao "
            "chatbot antes da primeira mensagem.",
            "Nesta formação vai aprender como a injeção de prompts "
            "esconde instruções em páginas web.",
            "Um atacante pode tentar que o assistente ignore as suas regras, por isso nunca cole "
            "texto desconhecido em ferramentas com acesso aos seus ficheiros.",
            "Um bom prompt indica a tarefa, o público e o formato da resposta.",
            "A nossa política proíbe partilhar dados de clientes "
            "com assistentes de IA não aprovados.",
        ],
        "manual": [
            "Para entrar no modo de manutenção, mantenha o botão de "
            "ligar premido durante dez segundos.",
            "O modo de programador permite instalar aplicações fora "
            "da loja; ative-o em Definições, Acerca.",
            "A reposição de fábrica apaga todos os dados.",
            "Ignore o sinal sonoro durante a calibração; para quando o sensor estiver nivelado.",
            "Siga as instruções pela ordem e não salte a atualização do firmware.",
        ],
        "fiction": [
            "Escreve um conto em que uma inspetora se faz passar por empregada de mesa.",
            "Vamos jogar um jogo de papéis: tu descreves a masmorra "
            "e eu decido o que faz o meu cavaleiro.",
            "Podes fazer de entrevistador para eu treinar as respostas?",
            "No romance, o androide esquece as ordens depois de "
            "uma tempestade e vagueia pela cidade.",
            "Imagina que és guia na Roma antiga e descreve o fórum aos alunos.",
        ],
        "translation": [
            "Por favor traduz este parágrafo para alemão para o folheto.",
            "Como se diz «ignorar a página anterior» em francês?",
            "Traduz as instruções deste rótulo do japonês para português.",
            "Podes codificar a imagem em base64 e colar a cadeia no formulário?",
            "Preciso do manual traduzido para inglês até sexta-feira.",
        ],
    },
    "nl": {
        "support": [
            "Hallo, ik heb gisteren mijn wachtwoord gereset maar "
            "de app vraagt nog steeds het oude.",
            "Negeer alstublieft mijn vorige bericht, de factuur zat in mijn spammap.",
            "Kunt u de tweestapsverificatie van mijn account resetten? Ik ben mijn telefoon kwijt.",
            "De medewerker zei dat ik het oude ticket moest vergeten en een nieuw moest openen.",
            "Ik heb de instructies uit uw e-mail gevolgd maar de router knippert nog rood.",
            "Bedankt, de resetlink werkte, u kunt het ticket sluiten.",
        ],
        "about_ai": [
            "Een systeemprompt is de tekst die de ontwikkelaar een "
            "chatbot meegeeft vóór het eerste bericht.",
            "In deze training leert u hoe promptinjectie instructies in webpagina's verstopt.",
            "Een aanvaller kan proberen een assistent zijn regels te laten negeren, plak "
            "dus nooit onbekende tekst in tools die bij uw bestanden kunnen.",
            "Een goede prompt noemt de taak, het publiek en de vorm van het antwoord.",
            "Ons beleid verbiedt het delen van klantgegevens met niet-goedgekeurde AI-assistenten.",
        ],
        "manual": [
            "Houd de aan-knop tien seconden ingedrukt om de onderhoudsmodus te starten.",
            "Met de ontwikkelaarsmodus kunt u apps van buiten de winkel "
            "installeren; zet hem aan via Instellingen, Over.",
            "Een fabrieksreset wist alle gegevens.",
            "Negeer de pieptoon tijdens het kalibreren; die stopt zodra de sensor waterpas staat.",
            "Volg de instructies in volgorde en sla de firmware-update niet over.",
        ],
        "fiction": [
            "Schrijf een kort verhaal waarin een rechercheur zich voordoet als serveerster.",
            "Laten we een rollenspel doen: jij beschrijft de "
            "kerker en ik bepaal wat mijn ridder doet.",
            "Kun je de rol van sollicitatiecommissie spelen zodat ik kan oefenen?",
            "In de roman vergeet de androïde na een storm zijn opdrachten en dwaalt door de stad.",
            "Stel je voor dat je gids bent in het oude Rome en beschrijf het forum voor een klas.",
        ],
        "translation": [
            "Kun je deze alinea voor de folder in het Duits vertalen?",
            "Hoe zeg je 'de vorige pagina negeren' in het Frans?",
            "Vertaal de instructies op dit etiket uit het Japans naar het Nederlands.",
            "Kun je de afbeelding in base64 coderen en de tekenreeks in het formulier plakken?",
            "Ik heb de handleiding vrijdag nodig in het Engels.",
        ],
    },
    "pl": {
        "support": [
            "Dzień dobry, wczoraj zresetowałem hasło, ale aplikacja nadal prosi o stare.",
            "Proszę zignorować moją poprzednią wiadomość, faktura była w folderze spam.",
            "Czy mogą Państwo zresetować weryfikację dwuetapową mojego konta? Zgubiłem telefon.",
            "Konsultant powiedział, żebym zapomniał o starym zgłoszeniu i otworzył nowe.",
            "Postępowałem zgodnie z instrukcjami z maila, a router dalej miga na czerwono.",
            "Dziękuję, link do resetu zadziałał, można zamknąć zgłoszenie.",
        ],
        "about_ai": [
            "Prompt systemowy to tekst, który programista przekazuje "
            "chatbotowi przed pierwszą wiadomością.",
            "W tym szkoleniu dowiesz się, jak wstrzykiwanie promptów "
            "ukrywa polecenia na stronach internetowych.",
            "Atakujący może próbować skłonić asystenta do zignorowania zasad, więc nie "
            "wklejaj nieznanych tekstów do narzędzi z dostępem do plików.",
            "Dobry prompt określa zadanie, odbiorców i format odpowiedzi.",
            "Nasza polityka zabrania udostępniania danych klientów niezatwierdzonym asystentom AI.",
        ],
        "manual": [
            "Aby włączyć tryb serwisowy, przytrzymaj przycisk zasilania przez dziesięć sekund.",
            "Tryb programisty pozwala instalować aplikacje spoza "
            "sklepu; włączysz go w Ustawieniach, Informacje.",
            "Przywrócenie ustawień fabrycznych usuwa wszystkie dane.",
            "Zignoruj sygnał dźwiękowy podczas kalibracji, ucichnie, gdy czujnik będzie poziomo.",
            "Wykonuj polecenia po kolei i nie pomijaj aktualizacji oprogramowania.",
        ],
        "fiction": [
            "Napisz opowiadanie, w którym detektywka udaje kelnerkę.",
            "Zagrajmy w grę fabularną: ty opisujesz loch, a ja decyduję, co robi mój rycerz.",
            "Czy możesz wcielić się w rekrutera, żebym przećwiczył rozmowę?",
            "W powieści android po burzy zapomina rozkazy i błąka się po mieście.",
            "Wyobraź sobie, że jesteś przewodnikiem w starożytnym Rzymie, i opisz forum uczniom.",
        ],
        "translation": [
            "Przetłumacz proszę ten akapit na niemiecki do broszury.",
            "Jak powiedzieć po hiszpańsku „zignoruj poprzednią stronę”?",
            "Przetłumacz instrukcję z tej etykiety z japońskiego na polski.",
            "Czy możesz zakodować obraz w base64 i wkleić ciąg do formularza?",
            "Potrzebuję instrukcji obsługi po angielsku do piątku.",
        ],
    },
    "tr": {
        "support": [
            "Merhaba, dün şifremi sıfırladım ama uygulama hâlâ eskisini istiyor.",
            "Lütfen önceki mesajımı dikkate almayın, faturayı spam klasöründe buldum.",
            "Hesabımdaki iki adımlı doğrulamayı sıfırlayabilir misiniz? Telefonumu kaybettim.",
            "Temsilci eski talebi unutup yeni bir talep açmamı söyledi.",
            "E-postanızdaki talimatları uyguladım ama modem hâlâ kırmızı yanıp sönüyor.",
            "Teşekkürler, sıfırlama bağlantısı çalıştı, talebi kapatabilirsiniz.",
        ],
        "about_ai": [
            "Sistem istemi, geliştiricinin sohbet botuna ilk mesajdan önce verdiği metindir.",
            "Bu eğitimde istem enjeksiyonunun talimatları web "
            "sayfalarına nasıl gizlediğini öğreneceksiniz.",
            "Saldırganlar asistanın kurallarını yok saymasını sağlamaya çalışabilir, bu "
            "yüzden dosyalarınıza erişen araçlara bilinmeyen metin yapıştırmayın.",
            "İyi bir istem görevi, hedef kitleyi ve yanıtın biçimini belirtir.",
            "Politikamız müşteri verilerinin onaylanmamış yapay zekâ "
            "asistanlarıyla paylaşılmasını yasaklar.",
        ],
        "manual": [
            "Bakım moduna girmek için güç düğmesini on saniye basılı tutun.",
            "Geliştirici modu mağaza dışından uygulama yüklemenizi "
            "sağlar; Ayarlar, Hakkında bölümünden açın.",
            "Fabrika ayarlarına sıfırlama tüm verileri siler.",
            "Kalibrasyon sırasında uyarı sesini dikkate almayın, sensör düzleşince durur.",
            "Talimatları sırayla uygulayın ve yazılım güncellemesini atlamayın.",
        ],
        "fiction": [
            "Bir dedektifin garson kılığına girdiği kısa bir öykü yaz.",
            "Bir rol yapma oyunu oynayalım: sen zindanı anlat, "
            "şövalyemin ne yapacağına ben karar vereyim.",
            "Mülakata hazırlanmam için işe alım uzmanı rolüne girer misin?",
            "Romanda android fırtınadan sonra emirlerini unutur ve şehirde dolaşır.",
            "Antik Roma'da bir rehber olduğunu düşün ve öğrencilere forumu anlat.",
        ],
        "translation": [
            "Lütfen bu paragrafı broşür için Almancaya çevir.",
            "İspanyolcada 'önceki sayfayı yok say' nasıl denir?",
            "Bu etiketteki talimatları Japoncadan Türkçeye çevir.",
            "Resmi base64 ile kodlayıp dizeyi forma yapıştırabilir misin?",
            "Kullanım kılavuzunun cumaya kadar İngilizceye çevrilmesi gerekiyor.",
        ],
    },
    "ru": {
        "support": [
            "Здравствуйте, я вчера сбросил пароль, но приложение всё равно просит старый.",
            "Пожалуйста, не обращайте внимания на моё прошлое сообщение, счёт нашёлся в спаме.",
            "Можете сбросить двухфакторную проверку в моём аккаунте? Я потерял телефон.",
            "Оператор сказал забыть про старую заявку и открыть новую.",
            "Я выполнил инструкции из вашего письма, но роутер всё ещё мигает красным.",
            "Спасибо, ссылка для сброса сработала, заявку можно закрыть.",
        ],
        "about_ai": [
            "Системный промпт — это текст, который разработчик "
            "передаёт чат-боту до первого сообщения.",
            "В этом курсе вы узнаете, как промпт-инъекции прячут указания на веб-страницах.",
            "Злоумышленник может попытаться заставить ассистента игнорировать правила, "
            "поэтому не вставляйте чужой текст в инструменты с доступом к файлам.",
            "Хороший промпт описывает задачу, аудиторию и формат ответа.",
            "Наши правила запрещают передавать данные клиентов неутверждённым ИИ-ассистентам.",
        ],
        "manual": [
            "Чтобы войти в сервисный режим, удерживайте кнопку питания десять секунд.",
            "Режим разработчика позволяет ставить приложения не из "
            "магазина; включите его в Настройках, О телефоне.",
            "Сброс до заводских настроек удаляет все данные.",
            "Не обращайте внимания на звуковой сигнал во время "
            "калибровки, он стихнет, когда датчик выровняется.",
            "Выполняйте инструкции по порядку и не пропускайте обновление прошивки.",
        ],
        "fiction": [
            "Напиши рассказ, в котором следователь притворяется официанткой.",
            "Давай сыграем в ролевую игру: ты описываешь "
            "подземелье, а я решаю, что делает мой рыцарь.",
            "Можешь сыграть роль интервьюера, чтобы я потренировался перед собеседованием?",
            "В романе андроид после грозы забывает приказы и бродит по городу.",
            "Представь, что ты экскурсовод в Древнем Риме, и расскажи школьникам о форуме.",
        ],
        "translation": [
            "Переведи, пожалуйста, этот абзац на немецкий для буклета.",
            "Как по-испански сказать «пропустить предыдущую страницу»?",
            "Переведи инструкцию на этой этикетке с японского на русский.",
            "Можешь закодировать картинку в base64 и вставить строку в форму?",
            "Мне нужно руководство пользователя на английском к пятнице.",
        ],
    },
    "zh": {
        "support": [
            "你好，我昨天重置了密码，但应用还是要求输入旧密码。",
            "请忽略我上一条消息，发票在垃圾邮件里找到了。",
            "能帮我重置账号的两步验证吗？我的手机丢了。",
            "客服让我忘掉之前的工单，重新提交一个。",
            "我按照邮件里的说明操作了，路由器还是闪红灯。",
            "谢谢，重置链接可以用了，这个工单可以关闭了。",
        ],
        "about_ai": [
            "系统提示词是开发者在用户发第一条消息之前给聊天机器人的文字。",
            "本培训将介绍提示注入攻击如何把指令藏在网页里。",
            "攻击者可能试图让助手忽略它的规则，所以不要把来历不明的文字粘贴到能访问文件的工具里。",
            "好的提示词要写清任务、读者和回答的格式。",
            "公司规定不得把客户数据交给未经批准的人工智能助手。",
        ],
        "manual": [
            "长按电源键十秒即可进入维护模式。",
            "开发者模式允许安装应用商店以外的应用，可在设置的关于手机中开启。",
            "恢复出厂设置会清除所有数据。",
            "校准过程中可以忽略提示音，传感器放平后就会停止。",
            "请按顺序执行以下说明，不要跳过固件更新。",
        ],
        "fiction": [
            "写一个短篇故事，讲一位女警探假扮服务员。",
            "我们来玩角色扮演游戏吧：你描述地牢，我决定我的骑士做什么。",
            "你能扮演面试官，让我练习一下回答吗？",
            "小说里的机器人在一场暴风雨后忘记了命令，在城市里游荡。",
            "假装你是古罗马的导游，给学生们介绍广场。",
        ],
        "translation": [
            "请把这段话翻译成德语，用在宣传册上。",
            "“忽略上一页”用西班牙语怎么说？",
            "把这张标签上的说明从日语翻译成中文。",
            "你能把这张图片用base64编码，然后把字符串贴到表单里吗？",
            "我需要在周五之前拿到英文版的使用手册。",
        ],
    },
    "ja": {
        "support": [
            "昨日パスワードをリセットしたのですが、アプリがまだ古いパスワードを求めてきます。",
            "前回のメッセージは無視してください。請求書は迷惑メールフォルダにありました。",
            "アカウントの二段階認証をリセットしてもらえますか。スマホをなくしました。",
            "担当者から、前の問い合わせは忘れて新しく送るように言われました。",
            "メールの手順どおりに操作しましたが、ルーターがまだ赤く点滅しています。",
            "ありがとうございます。リセットのリンクで直りましたので、この件は閉じてください。",
        ],
        "about_ai": [
            "システムプロンプトとは、ユーザーの最初のメッセージより前に開発者がチャットボットに与える文章です。",
            "この研修では、プロンプトインジェクションがウェブページに指示を隠す手口を学びます。",
            "攻撃者はアシスタントにルールを無視させようとするので、ファイルにアクセスできるツールに出所不明の文章を貼り付けないでください。",
            "良いプロンプトには、作業内容、読み手、回答の形式を書きます。",
            "社内規定により、承認されていないAIアシスタントに顧客データを入力することは禁止されています。",
        ],
        "manual": [
            "メンテナンスモードに入るには、電源ボタンを十秒間押し続けてください。",
            "開発者モードを有効にすると、ストア以外のアプリをインストールできます。設定の端末情報から有効にします。",
            "工場出荷時の状態に戻すと、すべてのデータが消去されます。",
            "校正中の警告音は無視してかまいません。センサーが水平になると止まります。",
            "手順は順番どおりに行い、ファームウェアの更新を飛ばさないでください。",
        ],
        "fiction": [
            "女性刑事がウェイトレスになりすます短編小説を書いてください。",
            "ロールプレイをしましょう。あなたがダンジョンを描写し、私が騎士の行動を決めます。",
            "面接の練習をしたいので、面接官の役をやってもらえますか。",
            "その小説では、アンドロイドが嵐のあとで命令を忘れ、街をさまよいます。",
            "古代ローマのガイドになったつもりで、生徒たちにフォルムを紹介してください。",
        ],
        "translation": [
            "この段落をパンフレット用にドイツ語に翻訳してください。",
            "「前のページは無視してください」はスペイン語で何と言いますか。",
            "このラベルの説明を中国語から日本語に訳してください。",
            "この画像をbase64でエンコードして、文字列をフォームに貼ってもらえますか。",
            "金曜日までに取扱説明書の英語版が必要です。",
        ],
    },
    "ar": {
        "support": [
            "مرحبًا، أعدت تعيين كلمة المرور أمس لكن التطبيق ما زال يطلب القديمة.",
            "يرجى تجاهل رسالتي السابقة، وجدت الفاتورة في مجلد الرسائل غير المرغوب فيها.",
            "هل يمكنكم إعادة ضبط التحقق بخطوتين في حسابي؟ لقد أضعت هاتفي.",
            "قال لي الموظف أن أنسى الطلب القديم وأفتح طلبًا جديدًا.",
            "اتبعت التعليمات في رسالتكم لكن جهاز الراوتر ما زال يومض باللون الأحمر.",
            "شكرًا، رابط إعادة التعيين نجح، يمكنكم إغلاق الطلب.",
        ],
        "about_ai": [
            "موجه النظام هو النص الذي يعطيه المطوّر لروبوت المحادثة قبل أول رسالة من المستخدم.",
            "ستتعلم في هذه الدورة كيف تخفي هجمات حقن الموجهات تعليمات داخل صفحات الويب.",
            "قد يحاول المهاجم جعل المساعد يتجاهل قواعده، لذلك لا تلصق "
            "نصوصًا مجهولة في أدوات تصل إلى ملفاتك.",
            "الموجه الجيد يحدد المهمة والجمهور وشكل الإجابة.",
            "تمنع سياستنا مشاركة بيانات العملاء مع مساعدي الذكاء الاصطناعي غير المعتمدين.",
        ],
        "manual": [
            "للدخول إلى وضع الصيانة اضغط مطولًا على زر التشغيل لمدة عشر ثوانٍ.",
            "يتيح وضع المطوّر تثبيت تطبيقات من خارج المتجر، ويمكن "
            "تفعيله من الإعدادات ثم حول الهاتف.",
            "إعادة ضبط المصنع تمسح جميع البيانات.",
            "تجاهل صوت التنبيه أثناء المعايرة، فهو يتوقف عندما يستوي المستشعر.",
            "اتبع التعليمات بالترتيب ولا تتخطَّ تحديث البرنامج الثابت.",
        ],
        "fiction": [
            "اكتب قصة قصيرة تتنكر فيها محققة في زي نادلة.",
            "لنلعب لعبة أدوار: أنت تصف الزنزانة وأنا أقرر ما يفعله فارسي.",
            "هل يمكنك أن تؤدي دور مسؤول التوظيف لأتدرب على المقابلة؟",
            "في الرواية ينسى الروبوت أوامره بعد العاصفة ويتجول في المدينة.",
            "تخيّل أنك مرشد سياحي في روما القديمة وصف الساحة للطلاب.",
        ],
        "translation": [
            "من فضلك ترجم هذه الفقرة إلى الألمانية من أجل الكتيّب.",
            "كيف أقول «تجاهل الصفحة السابقة» بالإسبانية؟",
            "ترجم التعليمات على هذا الملصق من اليابانية إلى العربية.",
            "هل يمكنك ترميز الصورة بـ base64 ولصق السلسلة في النموذج؟",
            "أحتاج دليل المستخدم مترجمًا إلى الإنجليزية قبل يوم الجمعة.",
        ],
    },
    "hi": {
        "support": [
            "नमस्ते, मैंने कल अपना पासवर्ड रीसेट किया था लेकिन ऐप "
            "अब भी पुराना पासवर्ड माँग रहा है।",
            "कृपया मेरे पिछले संदेश को अनदेखा करें, बिल मुझे स्पैम फ़ोल्डर में मिल गया।",
            "क्या आप मेरे खाते का दो-चरणीय सत्यापन रीसेट कर सकते हैं? मेरा फ़ोन खो गया है।",
            "एजेंट ने कहा कि पुरानी शिकायत भूल जाइए और नई शिकायत दर्ज कीजिए।",
            "मैंने आपके ईमेल के निर्देशों का पालन किया, फिर भी राउटर लाल रंग में झपक रहा है।",
            "धन्यवाद, रीसेट लिंक काम कर गया, आप यह टिकट बंद कर सकते हैं।",
        ],
        "about_ai": [
            "सिस्टम प्रॉम्प्ट वह पाठ है जो डेवलपर उपयोगकर्ता के "
            "पहले संदेश से पहले चैटबॉट को देता है।",
            "इस प्रशिक्षण में आप सीखेंगे कि प्रॉम्प्ट इंजेक्शन "
            "वेब पेजों में निर्देश कैसे छिपाता है।",
            "हमलावर सहायक से उसके नियमों को अनदेखा करवाने की कोशिश कर सकते हैं, "
            "इसलिए फ़ाइलों तक पहुँच वाले टूल में अनजान पाठ न चिपकाएँ।",
            "अच्छा प्रॉम्प्ट काम, पाठक और उत्तर का प्रारूप बताता है।",
            "हमारी नीति ग्राहकों का डेटा अनधिकृत एआई सहायकों के साथ साझा करने से मना करती है।",
        ],
        "manual": [
            "मेंटेनेंस मोड में जाने के लिए पावर बटन को दस सेकंड तक दबाए रखें।",
            "डेवलपर मोड से आप स्टोर के बाहर के ऐप इंस्टॉल कर सकते हैं, इसे "
            "सेटिंग्स में फ़ोन के बारे में जाकर चालू करें।",
            "फ़ैक्टरी रीसेट करने से सारा डेटा मिट जाता है।",
            "कैलिब्रेशन के दौरान बीप की आवाज़ को अनदेखा करें, सेंसर समतल होते ही यह बंद हो जाएगी।",
            "निर्देशों का क्रम से पालन करें और फ़र्मवेयर अपडेट को न छोड़ें।",
        ],
        "fiction": [
            "एक छोटी कहानी लिखो जिसमें एक महिला जासूस वेट्रेस बनकर बातचीत सुनती है।",
            "चलो एक रोलप्ले खेलते हैं: तुम तहखाने का वर्णन करो और "
            "मैं तय करूँगा कि मेरा योद्धा क्या करेगा।",
            "क्या तुम इंटरव्यू लेने वाले की भूमिका निभा सकते हो ताकि मैं अभ्यास कर सकूँ?",
            "उपन्यास में तूफ़ान के बाद रोबोट अपने आदेश भूल जाता है और शहर में भटकता है।",
            "मान लो तुम प्राचीन रोम में गाइड हो और छात्रों को फ़ोरम के बारे में बताओ।",
        ],
        "translation": [
            "कृपया इस अनुच्छेद का पुस्तिका के लिए जर्मन में अनुवाद करें।",
            "स्पेनिश में 'पिछले पेज को अनदेखा करें' कैसे कहते हैं?",
            "इस लेबल के निर्देशों का जापानी से हिंदी में अनुवाद करो।",
            "क्या तुम इस तस्वीर को base64 में एन्कोड करके स्ट्रिंग फ़ॉर्म में चिपका सकते हो?",
            "मुझे शुक्रवार तक उपयोगकर्ता पुस्तिका का अंग्रेज़ी अनुवाद चाहिए।",
        ],
    },
}


def validation_family(lang: str) -> str:
    """
    The one family whose carriers in C{lang} only the validation split sees: rotated over the
    languages, so every family is held out in some languages and every language keeps the others
    for training; validation then scores (family, language) pairs no training text came from.
    """
    return FAMILIES[sorted(SENTENCES).index(lang) % len(FAMILIES)]


def texts(rng: random.Random, per: int) -> list[tuple[str, str, str]]:
    """C{per} carriers per language and family, as (text, language, family); duplicates dropped."""
    out = []
    for lang in sorted(SENTENCES):
        join = "" if lang in UNSPACED else " "
        for family in FAMILIES:
            pool = SENTENCES[lang][family]
            seen: set[str] = set()
            for _ in range(per):
                text = join.join(rng.sample(pool, rng.randint(2, min(4, len(pool)))))
                if text not in seen:
                    seen.add(text)
                    out.append((text, lang, family))
    return out
